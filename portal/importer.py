"""Importing participants from CSV: every row is validated first; nothing is written unless all are valid.

Columns (header row required): study_id, full_name, phone, site, arm, day0 (YYYY-MM-DD), language (zh|en).
Errors are reported per row and field in the reader's language.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .i18n import translations
from .models import Participant, Study
from .participants import EnrolmentData, EnrolmentError, enrol_participant, validate_enrolment
from .phones import PhoneError, normalize_phone

COLUMNS = ("study_id", "full_name", "phone", "site", "arm", "day0", "language")
LANGUAGES = {"zh": "zh_Hans_CN", "zh_hans_cn": "zh_Hans_CN", "zh-cn": "zh_Hans_CN", "中文": "zh_Hans_CN",
             "en": "en", "english": "en"}  # fmt: skip
MAX_ROWS = 20_000


def N_(text: str) -> str:
    return text


MESSAGES = {
    "format": N_("The study ID does not match the study's format."),
    "taken": N_("Already used by another participant."),
    "duplicate": N_("Appears more than once in this file."),
    "required": N_("This field is empty."),
    "invalid": N_("Not a valid phone number."),
    "not_mobile": N_("Not a mobile phone number."),
    "unknown": N_("Unknown value."),
    "not_allowed": N_("You cannot enrol participants at this site."),
    "date": N_("Not a date (use YYYY-MM-DD)."),
    "columns": N_("The header row must contain: %(columns)s."),
    "too_many": N_("Too many rows in one file."),
    "encoding": N_("The file is not UTF-8 text."),
}
FIELD_BY_ERROR_KEY = {"study_code": "study_id", "full_name": "full_name", "phone": "phone", "site": "site",
                      "arm": "arm", "preferred_locale": "language"}  # fmt: skip


@dataclass(frozen=True)
class RowError:
    line: int  # line number in the file (header is line 1)
    field: str
    code: str

    def message(self, locale: str) -> str:
        return translations(locale).gettext(MESSAGES[self.code]) % {"columns": ", ".join(COLUMNS)}


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_rows(data: bytes | str) -> tuple[list[dict[str, str]], list[RowError]]:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], [RowError(1, "", "encoding")]
    reader = csv.DictReader(io.StringIO(data))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not set(COLUMNS) <= set(header):
        return [], [RowError(1, "", "columns")]
    reader.fieldnames = header
    rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    if len(rows) > MAX_ROWS:
        return [], [RowError(1, "", "too_many")]
    return rows, []


def _to_data(row: dict[str, str], study: Study) -> tuple[EnrolmentData | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    try:
        day0 = date.fromisoformat(row["day0"])
    except ValueError:
        problems.append(("day0", "date"))
        day0 = date(1970, 1, 1)
    language = LANGUAGES.get(row["language"].lower())
    if language is None:
        problems.append(("language", "unknown"))
    data = EnrolmentData(study_code=row["study_id"], full_name=row["full_name"], phone=row["phone"],
                         site_code=row["site"], arm_code=row["arm"], day0=day0,
                         preferred_locale=language or "zh_Hans_CN")  # fmt: skip
    return data, problems


def validate(
    session: Session, study: Study, rows: list[dict[str, str]], allowed_sites: Collection[str],
) -> tuple[list[EnrolmentData], list[RowError]]:  # fmt: skip
    errors: list[RowError] = []
    valid: list[EnrolmentData] = []
    seen: dict[str, set[str]] = {"study_id": set(), "phone": set()}
    for line, row in enumerate(rows, start=2):
        data, problems = _to_data(row, study)
        try:
            validate_enrolment(session, study, data)  # type: ignore[arg-type]
        except EnrolmentError as exc:
            problems += [(FIELD_BY_ERROR_KEY.get(k, k), code) for k, code in exc.errors.items()]
        if row["site"] and row["site"] not in allowed_sites and not any(f == "site" for f, _ in problems):
            problems.append(("site", "not_allowed"))
        for column, key in (("study_id", row["study_id"]), ("phone", _phone_key(row["phone"]))):
            if key and key in seen[column] and not any(f == column for f, _ in problems):
                problems.append((column, "duplicate"))
            seen[column].add(key)
        errors += [RowError(line, f, code) for f, code in problems]
        if not problems and data is not None:
            valid.append(data)
    return valid, errors


def _phone_key(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except PhoneError:
        return raw


def run_import(
    session: Session, study: Study, data: bytes | str, actor: Actor, allowed_sites: Collection[str], *,
    progress: Callable[[Iterable[EnrolmentData]], Iterable[EnrolmentData]] = lambda rows: rows,
    now: datetime | None = None, source: str = "",
) -> ImportReport:  # fmt: skip
    """Validate every row; enrol them all only when none has an error. The caller commits."""
    rows, errors = read_rows(data)
    report = ImportReport(rows=len(rows), errors=errors)
    if errors:
        return report
    valid, report.errors = validate(session, study, rows, allowed_sites)
    if report.errors or not valid:
        return report
    created: list[Participant] = []
    for item in progress(valid):
        created.append(enrol_participant(session, study, item, actor, now=now))
    report.created = [p.study_code for p in created]
    audit.record(session, actor, "participant.import", object_type="import", object_id=source[:40],
                 after={"rows": len(created), "source": source})  # fmt: skip
    return report
