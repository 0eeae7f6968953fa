// Live segment counter and preview for the message form (the server checks again on send).
(function () {
  var form = document.getElementById("send-form");
  if (!form) return;
  var previews = JSON.parse(document.getElementById("template-previews").textContent || "{}");
  var body = form.querySelector("[name=body]"), template = form.querySelector("[name=template]");
  var out = document.getElementById("preview"), count = document.getElementById("segments");
  var problem = document.getElementById("problem");
  var GSM = /^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-.\/0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà^{}\\\[~\]|€]*$/;
  function segments(text) {
    if (!text) return 0;
    if (GSM.test(text)) { var u = text.length + (text.match(/[\^{}\\\[~\]|€]/g) || []).length; return u <= 160 ? 1 : Math.ceil(u / 153); }
    var n = 0; for (var i = 0; i < text.length; i++) { n += 1; } return n <= 70 ? 1 : Math.ceil(n / 67);
  }
  var timer = null;
  function update() {
    var text = template.value ? previews[template.value] : body.value.trim();
    body.disabled = !!template.value;
    out.textContent = text || "";
    count.textContent = segments(text || "");
    clearTimeout(timer);
    timer = setTimeout(function () {
      var data = new FormData(form);
      fetch(form.dataset.preview, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { if (j) { out.textContent = j.body; count.textContent = j.segments; problem.textContent = j.problem; } });
    }, 300);
  }
  body.addEventListener("input", update);
  template.addEventListener("change", update);
  update();
})();
