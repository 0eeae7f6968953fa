"""The protocol file: parse, validate (errors name the visit, the line and the problem), apply.

Pure parsing lives in ``parse_protocol``; ``apply_protocol`` writes it to the database without
ever moving a visit that already happened.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models.study import VISIT_KINDS

DEFAULT_PROTOCOL = Path(__file__).parent / "protocols" / "nct03945487.toml"
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ProtocolError(ValueError):
    """A protocol file that cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class ArmSpec:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class VisitSpec:
    code: str
    kind: str
    day: int
    window_before: int
    window_after: int
    arms: tuple[str, ...]
    infusion_arms: tuple[str, ...]
    procedures: tuple[str, ...]
    name_zh: str
    name_en: str
    preparation_zh: str = ""
    preparation_en: str = ""
    fasting: bool = True


@dataclass(frozen=True)
class ReminderRuleSpec:
    code: str
    days_before: int
    local_time: str
    template: str
    visit_kinds: tuple[str, ...] = ()
    infusion_only: bool = False


@dataclass(frozen=True)
class SiteSpec:
    code: str
    values: dict[str, str]


@dataclass
class ProtocolSpec:
    study: dict[str, Any]
    arms: list[ArmSpec]
    visits: list[VisitSpec]
    reminder_rules: list[ReminderRuleSpec]
    sites: list[SiteSpec]
    content: dict[str, Any] = field(default_factory=dict)
    checksum: str = ""

    def visits_for_arm(self, arm_code: str) -> list[VisitSpec]:
        return [v for v in self.visits if arm_code in v.arms]


SITE_FIELDS = (
    "name_zh", "name_en", "sms_name_zh", "sms_name_en", "city_zh", "city_en",
    "address_zh", "address_en", "phone", "hours_zh", "hours_en",
)  # fmt: skip


class _Checker:
    """Collects problems with a location: the visit or item and its line in the file."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.problems: list[str] = []

    def line_of(self, key: str, value: str) -> int | None:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=\s*[\"']{re.escape(value)}[\"']")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return None

    def identify(self, item: dict[str, Any], index: int, noun: str, seen: set[str]) -> tuple[str, str, int | None]:
        """An item's code, how problems name it ("visit W4", "site #2") and its line; flags a
        missing or duplicate code."""
        code = str(item.get("code", "")).strip()
        where = f"{noun} {code or f'#{index}'}"
        line = self.line_of("code", code) if code else None
        if not code:
            self.add(where, "missing code")
        elif code in seen:
            self.add(where, f"duplicate {noun} code {code!r}", line)
        return code, where, line

    def add(self, where: str, problem: str, line: int | None = None) -> None:
        place = f"line {line}, {where}" if line else where
        self.problems.append(f"{place}: {problem}")


def load_protocol(path: Path | str = DEFAULT_PROTOCOL) -> ProtocolSpec:
    raw = Path(path).read_bytes()
    return parse_protocol(raw.decode("utf-8"), checksum=hashlib.sha256(raw).hexdigest())


def parse_protocol(text: str, checksum: str = "") -> ProtocolSpec:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError([f"not valid TOML: {exc}"]) from exc
    check = _Checker(text)
    study = _study(data.get("study"), check)
    arms = _arms(data.get("arms"), check)
    arm_codes = {a.code for a in arms}
    visits = _visits(data.get("visits"), arm_codes, check)
    rules = _rules(data.get("reminder_rules"), check)
    sites = _sites(data.get("sites"), check)
    content = {
        "is_default": bool(study.get("is_default", False)),
        "preparation": _pairs(data.get("preparation", {}), "preparation", check),
        "red_flags": _red_flags(data.get("red_flags", {}), check),
        "public": _public(data.get("public", {}), check),
    }
    if check.problems:
        raise ProtocolError(check.problems)
    return ProtocolSpec(study, arms, visits, rules, sites, content, checksum or _digest(text))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _need(table: dict[str, Any], key: str, kind: type, where: str, check: _Checker) -> Any:
    value = table.get(key)
    if value is None or (kind is str and not str(value).strip()):
        check.add(where, f"missing {key}")
        return kind()
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        check.add(where, f"{key} must be a {kind.__name__}, got {value!r}")
        return kind()
    return value


def _study(table: Any, check: _Checker) -> dict[str, Any]:
    if not isinstance(table, dict):
        check.add("[study]", "missing the [study] table")
        return {}
    for key in ("code", "protocol_version", "title_zh", "title_en", "study_id_pattern"):
        _need(table, key, str, "[study]", check)
    _translated(table, ("sponsor",), "[study]", check, required=False)
    try:
        re.compile(str(table.get("study_id_pattern", "")))
    except re.error as exc:
        check.add("[study]", f"study_id_pattern is not a valid pattern: {exc}")
    return table


def _arms(items: Any, check: _Checker) -> list[ArmSpec]:
    if not isinstance(items, list) or not items:
        check.add("[[arms]]", "at least one arm is required")
        return []
    arms: list[ArmSpec] = []
    for index, item in enumerate(items, start=1):
        code, where, line = check.identify(item, index, "arm", {a.code for a in arms})
        _translated(item, ("name",), where, check, line=line)
        arms.append(ArmSpec(code, str(item.get("name_zh", "")), str(item.get("name_en", ""))))
    return arms


def _visits(items: Any, arm_codes: set[str], check: _Checker) -> list[VisitSpec]:
    if not isinstance(items, list) or not items:
        check.add("[[visits]]", "at least one visit is required")
        return []
    visits: list[VisitSpec] = []
    for index, item in enumerate(items, start=1):
        visit = _visit(item, index, arm_codes, {v.code for v in visits}, check)
        if visit is not None:
            visits.append(visit)
    _check_order_and_overlap(visits, arm_codes, check)
    return visits


def _visit(
    item: dict[str, Any], index: int, arm_codes: set[str], seen: set[str], check: _Checker
) -> VisitSpec | None:
    code, where, line = check.identify(item, index, "visit", seen)
    kind = item.get("kind")
    if kind not in VISIT_KINDS:
        check.add(where, f"kind must be one of {', '.join(VISIT_KINDS)}, got {kind!r}", line)
    day = item.get("day")
    if not isinstance(day, int) or isinstance(day, bool) or day < 0:
        check.add(where, f"day must be a whole number of days from day 0, not negative (got {day!r})", line)
        day = 0
    window = item.get("window", [0, 0])
    if (
        not isinstance(window, list)
        or len(window) != 2
        or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 0 for w in window)
    ):
        check.add(where, f"window must be [days before, days after], both 0 or more (got {window!r})", line)
        window = [0, 0]
    arms = tuple(item.get("arms", ()))
    infusion_arms = tuple(item.get("infusion_arms", ()))
    if not arms:
        check.add(where, "arms must name at least one arm", line)
    for arm in (*arms, *infusion_arms):
        if arm not in arm_codes:
            check.add(where, f"unknown arm {arm!r} (known: {', '.join(sorted(arm_codes))})", line)
    for arm in infusion_arms:
        if arm not in arms:
            check.add(where, f"infusion arm {arm!r} is not among the visit's arms", line)
    _translated(item, ("name",), where, check, line=line)
    _translated(item, ("preparation",), where, check, line=line, required=False)
    return VisitSpec(
        code=code,
        kind=str(kind),
        day=day,
        window_before=window[0],
        window_after=window[1],
        arms=arms,
        infusion_arms=infusion_arms,
        procedures=tuple(item.get("procedures", ())),
        name_zh=str(item.get("name_zh", "")),
        name_en=str(item.get("name_en", "")),
        preparation_zh=str(item.get("preparation_zh", "")),
        preparation_en=str(item.get("preparation_en", "")),
        fasting=bool(item.get("fasting", "labs" in item.get("procedures", ()))),
    )


def _check_order_and_overlap(visits: list[VisitSpec], arm_codes: set[str], check: _Checker) -> None:
    for arm in sorted(arm_codes):
        ordered = [v for v in visits if arm in v.arms]
        for current, following in itertools.pairwise(ordered):
            line = check.line_of("code", following.code)
            if following.day <= current.day:
                check.add(
                    f"visit {following.code}",
                    f"day {following.day} must come after visit {current.code} (day {current.day})",
                    line,
                )
            elif current.day + current.window_after >= following.day - following.window_before:
                check.add(
                    f"visit {current.code}",
                    f"window overlaps the next visit {following.code} for arm {arm}: "
                    f"{current.code} ends on day {current.day + current.window_after}, "
                    f"{following.code} starts on day {following.day - following.window_before}",
                    check.line_of("code", current.code),
                )


def _rules(items: Any, check: _Checker) -> list[ReminderRuleSpec]:
    rules: list[ReminderRuleSpec] = []
    for index, item in enumerate(items or [], start=1):
        code, where, line = check.identify(item, index, "reminder rule", {r.code for r in rules})
        days = item.get("days_before")
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            check.add(where, f"days_before must be 0 or more (got {days!r})", line)
            days = 0
        local_time = str(item.get("time", ""))
        if local_time and not _TIME.match(local_time):
            check.add(where, f"time must be HH:MM in site-local time (got {local_time!r})", line)
        kinds = tuple(item.get("visit_kinds", ()))
        for kind in kinds:
            if kind not in VISIT_KINDS:
                check.add(where, f"unknown visit kind {kind!r}", line)
        template = str(item.get("template", "")).strip()
        if not template:
            check.add(where, "missing template", line)
        rules.append(
            ReminderRuleSpec(code, days, local_time, template, kinds, bool(item.get("infusion_only", False)))
        )
    return rules


def _sites(items: Any, check: _Checker) -> list[SiteSpec]:
    sites: list[SiteSpec] = []
    for index, item in enumerate(items or [], start=1):
        code, where, line = check.identify(item, index, "site", {s.code for s in sites})
        for key in SITE_FIELDS:
            if not str(item.get(key, "")).strip():
                check.add(where, f"missing {key}", line)
        timezone = str(item.get("timezone", "Asia/Shanghai"))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            check.add(where, f"unknown time zone {timezone!r}", line)
        visit_time = str(item.get("default_visit_time", "08:00"))
        if not _TIME.match(visit_time):
            check.add(where, f"default_visit_time must be HH:MM (got {visit_time!r})", line)
        values = {k: str(v) for k, v in item.items() if k != "code"}
        values.setdefault("timezone", timezone)
        values.setdefault("default_visit_time", visit_time)
        sites.append(SiteSpec(code, values))
    return sites


def _translated(
    table: dict[str, Any],
    stems: tuple[str, ...],
    where: str,
    check: _Checker,
    *,
    line: int | None = None,
    required: bool = True,
) -> None:
    for stem in stems:
        zh, en = str(table.get(f"{stem}_zh", "")).strip(), str(table.get(f"{stem}_en", "")).strip()
        if required and not zh and not en:
            check.add(where, f"missing {stem}_zh and {stem}_en", line)
        elif bool(zh) != bool(en):
            missing = f"{stem}_en" if zh else f"{stem}_zh"
            check.add(where, f"missing translation {missing}", line)


def _pairs(table: dict[str, Any], where: str, check: _Checker) -> dict[str, str]:
    stems = sorted({k.rsplit("_", 1)[0] for k in table if k.endswith(("_zh", "_en"))})
    _translated(table, tuple(stems), f"[{where}]", check)
    return {k: str(v) for k, v in table.items()}


def _red_flags(table: dict[str, Any], check: _Checker) -> dict[str, list[str]]:
    flags = {lang: [str(w) for w in table.get(lang, [])] for lang in ("zh", "en")}
    if bool(flags["zh"]) != bool(flags["en"]):
        check.add("[red_flags]", "warning signs must be listed in both zh and en")
    return flags


# What the public study page needs, each in both languages (the [public] table is optional).
PUBLIC_FIELDS = (
    "summary", "condition", "ucmsc_arm", "control_arm", "randomised", "voluntary",
    "step_screening", "step_consent", "step_visits",
)  # fmt: skip


def _public(table: Any, check: _Checker) -> dict[str, str]:
    if not isinstance(table, dict):
        check.add("[public]", "must be a table of texts")
        return {}
    if not table:
        return {}
    for stem in PUBLIC_FIELDS:
        _translated(table, (stem,), "[public]", check)
    return _pairs(table, "public", check)


def visit_dates(spec: VisitSpec, day0: date) -> tuple[date, date, date]:
    """(target, window start, window end) of a visit for a participant's day 0."""
    from datetime import timedelta

    target = day0 + timedelta(days=spec.day)
    return target, target - timedelta(days=spec.window_before), target + timedelta(days=spec.window_after)
