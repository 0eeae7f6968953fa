// Counts characters as the participant types (the server checks the same limit without JavaScript).
(function () {
  "use strict";
  var box = document.getElementById("body");
  var out = document.getElementById("body-count");
  if (!box || !out) { return; }
  var max = parseInt(box.getAttribute("data-max"), 10);
  function update() {
    // Count characters, not UTF-16 units, and a line break as one (as the server does).
    var count = Array.from(box.value.replace(/\r\n/g, "\n").trim()).length;
    var over = count > max;
    var template = out.getAttribute(over ? "data-over" : "data-template");
    out.textContent = template.replace("{count}", count);
    out.classList.toggle("over", over);
  }
  box.addEventListener("input", update);
  update();
}());
