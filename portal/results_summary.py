"""Released lab results in plain words, with trend charts drawn on the server as SVG.

Only panels an investigator released ever leave this module. Flags say where a value sits
against the usual range ("within", "above", "below") and never more than that; the study
doctor explains the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from .analytes import BY_CODE, SCORE_EXPLANATIONS
from .db import read_rows
from .i18n import translations
from .models import ResultPanel, ResultValue, Visit, VisitDefinition
from .models.results import flag_for

FLAG_WORDS = {"normal": "within", "high": "above", "low": "below"}


@dataclass(frozen=True)
class ValueLine:
    code: str
    name: str
    value: float
    shown: str
    unit: str
    ref_low: float | None
    ref_high: float | None
    flag: str  # within | above | below

    @property
    def range_text(self) -> str:
        if self.ref_low is not None and self.ref_high is not None:
            return f"{_fmt(self.ref_low)}–{_fmt(self.ref_high)}"
        if self.ref_high is not None:
            return f"≤ {_fmt(self.ref_high)}"
        if self.ref_low is not None:
            return f"≥ {_fmt(self.ref_low)}"
        return ""


@dataclass(frozen=True)
class PanelSummary:
    panel_id: int
    visit_name: str
    collected_on: date
    values: list[ValueLine]
    meld: float | None
    meld_na: float | None
    child_pugh_class: str | None
    meld_meaning: str
    child_pugh_meaning: str

    @property
    def id(self) -> int:
        return self.panel_id


@dataclass(frozen=True)
class Trend:
    code: str
    name: str
    unit: str
    ref_low: float | None
    ref_high: float | None
    points: list[tuple[date, float, str]]  # (collected on, value, shown)


def _fmt(number: float, decimals: int = 1) -> str:
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@lru_cache(maxsize=2)
def _released_rows(one_panel: bool) -> Select[Any]:
    """A participant's released panels (or one of them), one row per value with the panel's
    columns and its visit's names: one statement, plain rows, built once with bound parameters."""
    query = (
        select(ResultPanel.id, ResultPanel.collected_on, ResultPanel.meld, ResultPanel.meld_na,
               ResultPanel.child_pugh_class, VisitDefinition.name_zh, VisitDefinition.name_en, ResultValue.analyte,
               ResultValue.value, ResultValue.unit, ResultValue.ref_low, ResultValue.ref_high)
        .join(Visit, Visit.id == ResultPanel.visit_id)
        .join(VisitDefinition, VisitDefinition.id == Visit.definition_id)
        .outerjoin(ResultValue, ResultValue.panel_id == ResultPanel.id)
        .where(ResultPanel.participant_id == bindparam("participant_id"), ResultPanel.released_at.is_not(None))
        .order_by(ResultPanel.collected_on, ResultPanel.id)
    )  # fmt: skip
    return query.where(ResultPanel.id == bindparam("panel_id")) if one_panel else query


def _summaries(rows: Iterable[Row[Any]], locale: str) -> list[PanelSummary]:
    panels: dict[int, tuple[Row[Any], list[Row[Any]]]] = {}
    for row in rows:
        _head, values = panels.setdefault(row.id, (row, []))
        if row.analyte is not None:
            values.append(row)
    return [summarize(head, values, locale) for head, values in panels.values()]


def released_panels(session: Session, participant_id: int, locale: str) -> list[PanelSummary]:
    return _summaries(read_rows(session, _released_rows(False), {"participant_id": participant_id}).all(), locale)


def released_panel(session: Session, participant_id: int, panel_id: int, locale: str) -> PanelSummary | None:
    """One released panel of this participant; None for unreleased or anyone else's."""
    rows = read_rows(session, _released_rows(True), {"participant_id": participant_id, "panel_id": panel_id}).all()
    found = _summaries(rows, locale)
    return found[0] if found else None


def summarize(panel: Row[Any], value_rows: list[Row[Any]], locale: str) -> PanelSummary:
    """``panel``: a row of _released_rows (its panel columns); ``value_rows``: its values."""
    tr = translations(locale).gettext  # msgids come from portal.analytes (extracted there)
    order = {code: i for i, code in enumerate(BY_CODE)}
    values = []
    for v in sorted(value_rows, key=lambda v: order.get(v.analyte, 99)):
        analyte = BY_CODE.get(v.analyte)
        decimals = analyte.decimals if analyte else 1
        values.append(
            ValueLine(
                code=v.analyte,
                name=tr(analyte.plain_name) if analyte else v.analyte,
                value=v.value,
                shown=_fmt(v.value, decimals),
                unit=v.unit,
                ref_low=v.ref_low,
                ref_high=v.ref_high,
                flag=FLAG_WORDS[flag_for(v.value, v.ref_low, v.ref_high)],
            )
        )
    return PanelSummary(
        panel_id=panel.id,
        visit_name=panel.name_zh if locale.startswith("zh") else panel.name_en,
        collected_on=panel.collected_on,
        values=values,
        meld=panel.meld,
        meld_na=panel.meld_na,
        child_pugh_class=panel.child_pugh_class,
        meld_meaning=tr(SCORE_EXPLANATIONS["MELD"]),
        child_pugh_meaning=tr(SCORE_EXPLANATIONS["CHILD_PUGH"]),
    )


def trends(panels: list[PanelSummary]) -> list[Trend]:
    """One series per analyte with at least one released value, in catalogue order."""
    series: dict[str, Trend] = {}
    for summary in panels:
        for line in summary.values:
            trend = series.setdefault(
                line.code, Trend(line.code, line.name, line.unit, line.ref_low, line.ref_high, [])
            )
            trend.points.append((summary.collected_on, line.value, line.shown))
    return list(series.values())


def trend_svg(trend: Trend, title_id: str, labels: list[str]) -> Markup:
    """A small line chart with the usual range shaded; ``labels`` are the x-axis dates.

    The chart is decorative for screen readers (aria-hidden): the table beside it has the data.
    """
    width, height, left, right, top, bottom = 340, 170, 44, 30, 18, 30
    values = [p[1] for p in trend.points]
    bounds = [*values, *(b for b in (trend.ref_low, trend.ref_high) if b is not None)]
    low, high = min(bounds), max(bounds)
    if high == low:
        high, low = high + 1, low - 1
    pad = (high - low) * 0.1
    low, high = low - pad, high + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w / 2 if len(values) == 1 else plot_w * i / (len(values) - 1))

    def y(v: float) -> float:
        return top + plot_h * (high - v) / (high - low)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{escape(title_id)}" focusable="false">'
    ]
    if trend.ref_low is not None or trend.ref_high is not None:
        band_top = y(trend.ref_high if trend.ref_high is not None else high)
        band_bottom = y(trend.ref_low if trend.ref_low is not None else low)
        parts.append(
            f'<rect class="band" x="{left}" y="{band_top:.1f}" width="{plot_w}" '
            f'height="{max(0.0, band_bottom - band_top):.1f}"/>'
        )
    parts.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>')
    # Y ticks at the usual range's edges (what the shaded band means), else the data's extremes.
    ticks = [b for b in (trend.ref_low, trend.ref_high) if b is not None] or [min(values), max(values)]
    for v in sorted(set(ticks)):
        parts.append(f'<text class="tick" x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    if len(values) > 1:
        parts.append(f'<polyline class="line" points="{points}"/>')
    for i, (_, value, shown) in enumerate(trend.points):
        parts.append(f'<circle class="dot" cx="{x(i):.1f}" cy="{y(value):.1f}" r="4"/>')
        if len(values) <= 3 or i in (0, len(values) - 1):
            anchor = "start" if i == 0 and len(values) > 1 else "end" if i == len(values) - 1 and i else "middle"
            parts.append(
                f'<text class="tick" x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">'
                f"{escape(labels[i])}</text>"
            )
        parts.append(
            f'<text class="val" x="{x(i):.1f}" y="{y(value) - 8:.1f}" text-anchor="middle">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped or numeric
