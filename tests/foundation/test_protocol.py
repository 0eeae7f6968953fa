"""The protocol file: the default equals DESIGN.md §1; bad files get errors naming the problem."""

import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select

from portal.audit import SYSTEM
from portal.models import ReminderRule, Visit, VisitDefinition
from portal.protocol import DEFAULT_PROTOCOL, ProtocolError, load_protocol, parse_protocol
from portal.studies import apply_protocol

# DESIGN.md §1, transcribed by hand: code → (day offset, window before, window after).
DESIGN_TABLE = {
    "BL": (0, 0, 0), "W4": (28, 3, 3), "W8": (56, 3, 3), "W12": (84, 7, 7), "W24": (168, 14, 14),
    "W36": (252, 14, 14), "W48": (336, 14, 14),
    "M18": (546, 28, 28), "M24": (728, 28, 28), "M30": (910, 28, 28), "M36": (1092, 28, 28),
    "M42": (1274, 28, 28), "M48": (1456, 28, 28), "M54": (1638, 28, 28), "M60": (1820, 28, 28),
    "M66": (2002, 28, 28), "M72": (2190, 28, 28),
}  # fmt: skip
INFUSION_VISITS = {"BL", "W4", "W8"}


def test_default_protocol_matches_the_design_table():
    spec = load_protocol()
    assert {v.code: (v.day, v.window_before, v.window_after) for v in spec.visits} == DESIGN_TABLE
    assert {a.code for a in spec.arms} == {"ucmsc", "control"}
    for visit in spec.visits:
        assert set(visit.arms) == {"ucmsc", "control"}
        assert set(visit.infusion_arms) == ({"ucmsc"} if visit.code in INFUSION_VISITS else set())
    assert {"ultrasound"} <= set(next(v for v in spec.visits if v.code == "W24").procedures)
    assert {"ultrasound", "afp"} <= set(next(v for v in spec.visits if v.code == "W48").procedures)
    rules = {r.code: (r.days_before, r.local_time, r.infusion_only) for r in spec.reminder_rules}
    assert rules["day_before"] == (1, "18:00", False)
    assert rules["infusion_morning"] == (0, "07:30", True)
    assert rules["week_before"][0] == 7


def _default_text() -> str:
    return DEFAULT_PROTOCOL.read_text(encoding="utf-8")


def _problems(text: str) -> list[str]:
    with pytest.raises(ProtocolError) as error:
        parse_protocol(text)
    return error.value.problems


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_unknown_arm_is_named_with_its_visit_and_line():
    text = _default_text().replace('arms = ["ucmsc", "control"]\ninfusion_arms = ["ucmsc"]\nprocedures = ["labs"]\n'
                                   'name_zh = "第4周随访"', 'arms = ["ucmsc", "placebo"]\ninfusion_arms = ["ucmsc"]\n'
                                   'procedures = ["labs"]\nname_zh = "第4周随访"')
    problems = _problems(text)
    line = _line_of(text, 'code = "W4"')
    assert any(f"line {line}, visit W4: unknown arm 'placebo'" in p for p in problems), problems


def test_duplicate_visit_code():
    text = _default_text().replace('code = "W36"', 'code = "W24"')
    assert any("visit W24" in p and "duplicate visit code 'W24'" in p for p in _problems(text))


def test_window_overlapping_the_next_visit():
    text = _default_text().replace("day = 28\nwindow = [3, 3]", "day = 28\nwindow = [3, 30]")
    problems = _problems(text)
    assert any("visit W4" in p and "window overlaps the next visit W8" in p for p in problems), problems


def test_negative_offset():
    text = _default_text().replace("day = 56\n", "day = -56\n")
    assert any("visit W8" in p and "not negative" in p for p in _problems(text))


def test_missing_translation():
    text = _default_text().replace('name_en = "Week 12 visit"\n', "")
    assert any("visit W12: missing translation name_en" in p for p in _problems(text))


def test_bad_toml_names_the_line():
    problems = _problems(_default_text() + "\n[[visits]\ncode = 'broken'\n")
    assert re.search(r"not valid TOML: .*line \d+", problems[0])


def test_every_problem_is_reported_at_once():
    text = _default_text().replace("day = 56\n", "day = -56\n").replace('name_en = "Week 12 visit"\n', "")
    assert len(_problems(text)) >= 2


def test_cli_rejects_a_malformed_file_with_a_clear_message(app, tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(_default_text().replace('code = "W36"', 'code = "W24"'), encoding="utf-8")
    result: Result = app.test_cli_runner().invoke(args=["load-protocol", str(bad)])
    assert result.exit_code == 1
    assert "duplicate visit code 'W24'" in result.output


def test_cli_loads_the_protocol_idempotently(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["load-protocol"])
    second = runner.invoke(args=["load-protocol"])
    assert first.exit_code == 0, first.output
    assert "created study" in first.output and "study unchanged" in second.output
    assert "updated study" not in second.output
    assert db.scalars(select(VisitDefinition)).all().__len__() == len(DESIGN_TABLE)
    assert len(db.scalars(select(ReminderRule)).all()) == 3


def test_updating_a_protocol_never_moves_visits_that_happened(db, make_participant, study):
    participant = make_participant(day0=date(2026, 1, 5))
    visits = {v.definition.code: v for v in db.scalars(select(Visit).where(Visit.participant_id == participant.id))}
    from portal.schedule import complete_visit

    complete_visit(db, visits["W4"], date(2026, 2, 2), SYSTEM)
    db.commit()
    changed = _default_text().replace("day = 28\nwindow = [3, 3]", "day = 30\nwindow = [3, 3]").replace(
        "day = 168\n", "day = 170\n"
    )
    _, report = apply_protocol(db, parse_protocol(changed), SYSTEM, today=date(2026, 3, 1))
    db.commit()
    db.expire_all()
    assert visits["W4"].target_date == date(2026, 2, 2)  # happened: stays where it was
    assert visits["W4"].actual_date == date(2026, 2, 2)
    assert visits["W24"].target_date == date(2026, 1, 5).fromordinal(date(2026, 1, 5).toordinal() + 170)
    assert report.moved_visits == 1
