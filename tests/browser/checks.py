"""Checks every browser test applies to a page: axe, tap targets, no sideways scrolling, a screenshot."""

from __future__ import annotations

from typing import Any

from .conftest import screenshot

# Visible controls smaller than 44×44 px (a checkbox or radio whose label is a large tap target is
# fine: tapping the label ticks it; the honeypot field is hidden from people).
SMALL_TARGETS_JS = """() => [...document.querySelectorAll(
    'button, .button, input:not([type=hidden]), select, textarea, .tabs a')]
  .filter(e => e.offsetParent !== null && !e.closest('.hp'))
  .filter(e => !(['checkbox', 'radio'].includes(e.type) && e.labels.length
                 && e.labels[0].getBoundingClientRect().height >= 44))
  .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect()])
  .filter(([_, r]) => r.height < 44 || r.width < 44)
  .map(([html, r]) => `${html} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def check_page(page: Any, axe_check: Any, name: str) -> None:
    """axe-core: no serious/critical violations; tap targets ≥ 44 px; no sideways scrolling; screenshot."""
    screenshot(page, name)
    violations = axe_check(page)
    assert not violations, f"{name}: {violations}"
    assert page.evaluate(SMALL_TARGETS_JS) == [], name
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{name} scrolls sideways"
