"""Participant CSV import: good, bad and mixed files, from the CLI and the console."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from portal.models import AuditEvent, Participant, Visit

HEADER = "study_id,full_name,phone,site,arm,day0,language\n"
GOOD = HEADER + (
    "BJ-0101,张三,13800138001,BJ,ucmsc,2026-12-01,zh\n"
    "BJ-0102,Li Si,+86 138 0013 8002,BJ,control,2026-12-02,en\n"
    "SH-0103,王五,13800138003,SH,control,2026-12-03,zh\n"
)
BAD = HEADER + (
    "bj-1,,12345,XX,nope,01/12/2026,fr\n"
)
MIXED = GOOD + (
    "BJ-0101,重复,13800138009,BJ,ucmsc,2026-12-01,zh\n"  # duplicate study id in the file
    "BJ-0105,赵六,13800138001,BJ,ucmsc,2026-12-01,zh\n"  # duplicate phone in the file
)


def _count(db, model=Participant):
    return db.scalar(select(func.count()).select_from(model))


def test_cli_imports_a_good_file_with_visits(app, db, study, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(GOOD, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-participants", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 3 participants" in result.output
    assert _count(db) == 3 and _count(db, Visit) > 3
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "participant.import")).after["rows"] == 3


def test_cli_reports_every_problem_of_a_bad_file_and_writes_nothing(app, db, study, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-participants", str(path), "--lang", "en"])
    assert result.exit_code != 0
    output = result.output  # click ≥ 8.2 includes stderr here
    for column in ("study_id", "full_name", "phone", "site", "arm", "day0", "language"):
        assert f"bad.csv:2 [{column}]" in output, column
    assert "nothing imported" in output
    assert _count(db) == 0


def test_cli_error_report_in_chinese(app, db, study, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-participants", str(path), "--lang", "zh_Hans_CN"])
    assert "不是有效的电话号码" in result.output


def test_mixed_file_writes_nothing_and_names_the_bad_rows(app, db, study, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-participants", str(path), "--lang", "en"])
    output = result.output
    assert result.exit_code != 0
    assert "mixed.csv:5 [study_id]" in output and "mixed.csv:6 [phone]" in output
    assert "mixed.csv:2" not in output
    assert _count(db) == 0


def test_console_import_is_limited_to_the_coordinators_sites(sign_in, db):
    client = sign_in("coord_bj")
    page = client.post("/staff/participants/import", data={"file": (io.BytesIO(GOOD.encode()), "good.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)  # fmt: skip
    assert "You cannot enrol participants at this site." in page
    assert _count(db) == 0
    only_bj = HEADER + GOOD.splitlines(keepends=True)[1] + GOOD.splitlines(keepends=True)[2]
    response = client.post("/staff/participants/import", data={"file": (io.BytesIO(only_bj.encode()), "bj.csv")},
                           content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    assert _count(db) == 2


def test_wrong_header_is_reported(sign_in, db):
    client = sign_in("coord_bj")
    page = client.post("/staff/participants/import", data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)  # fmt: skip
    assert "The header row must contain" in page
