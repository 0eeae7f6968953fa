"""Acceptance: a coordinator of one site runs a day's work, reaches nothing of the other site,
and every action leaves an audit row."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import select

from portal.models import AuditEvent, OutboxMessage, RescheduleRequest, ResultPanel, Visit

from .objects import visit_by_code


def _actions(db, staff_id):
    return [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.actor_id == staff_id,
                                                                  AuditEvent.actor_type == "staff"))]  # fmt: skip


@time_machine.travel(datetime(2026, 12, 29, 1, 0, tzinfo=UTC), tick=False)
def test_coordinator_day_of_work_is_scoped_and_audited(sign_in, team, world, db):
    client = sign_in("coord_bj")
    staff_id = team.users["coord_bj"].id
    w4 = visit_by_code(db, world.bj, "W4")  # target 2026-12-29, window 26 Dec – 1 Jan
    w4_sh = visit_by_code(db, world.sh, "W4")
    db.add(RescheduleRequest(participant_id=world.bj.id, site_id=world.bj.site_id,
                             visit_id=visit_by_code(db, world.bj, "W8").id,
                             proposed_date_1=date(2027, 1, 25), proposed_date_2=date(2027, 1, 27)))  # fmt: skip
    db.commit()

    page = client.get("/staff/worklist").get_data(as_text=True)
    assert world.bj.study_code in page and world.sh.study_code not in page

    # Schedule today's visit, then record it attended.
    response = client.post(f"/staff/visits/{w4.id}", data={"action": "schedule", "day": "2026-12-29", "at": "09:30"})
    assert response.status_code == 302
    assert client.post(f"/staff/visits/{w4.id}", data={"action": "attended", "day": "2026-12-29"}).status_code == 302
    # Outside the window needs a reason.
    w8 = visit_by_code(db, world.bj, "W8")
    response = client.post(f"/staff/visits/{w8.id}", data={"action": "schedule", "day": "2027-03-01", "at": "08:00"})
    assert response.status_code == 400
    # Accept the participant's reschedule request: visit moves, participant gets an SMS.
    req = db.scalar(select(RescheduleRequest).where(RescheduleRequest.participant_id == world.bj.id))
    response = client.post(f"/staff/requests/{req.id}/accept", data={f"r{req.id}-day": "2027-01-27"})
    assert response.status_code == 302
    # A message.
    assert client.post(f"/staff/participants/{world.bj.id}/messages",
                       data={"body": "请明天上午带上身份证。"}).status_code == 302  # fmt: skip
    db.expire_all()
    assert db.get(Visit, w4.id).status == "completed"
    assert db.get(RescheduleRequest, req.id).status == "accepted"
    assert db.get(Visit, w8.id).scheduled_at is not None
    sms = db.scalars(select(OutboxMessage).where(OutboxMessage.participant_id == world.bj.id,
                                                 OutboxMessage.kind.in_(["staff", "notification"]))).all()  # fmt: skip
    assert {m.kind for m in sms} == {"staff", "notification"}
    assert all(m.created_by_id == staff_id for m in sms)

    # Nothing of the other site, whatever the URL.
    for url in (f"/staff/participants/{world.sh.id}", f"/staff/visits/{w4_sh.id}",
                f"/staff/participants/{world.sh.id}/messages"):  # fmt: skip
        assert client.get(url).status_code == 404
    assert client.post(f"/staff/visits/{w4_sh.id}", data={"action": "missed"}).status_code == 404
    assert world.sh.study_code not in client.get("/staff/participants").get_data(as_text=True)
    found = client.get(f"/staff/participants?q={world.sh.study_code}").get_data(as_text=True)
    assert f"/staff/participants/{world.sh.id}" not in found and "No participants match." in found

    actions = _actions(db, staff_id)
    for expected in ("staff.sign_in", "visit.schedule", "visit.complete", "reschedule.accept", "message.send"):
        assert expected in actions, expected
    visit_rows = db.scalars(select(AuditEvent).where(AuditEvent.action == "visit.schedule",
                                                     AuditEvent.actor_id == staff_id)).all()  # fmt: skip
    assert all(r.request_id and r.actor_role == "coordinator" and r.site_id == world.bj.site_id for r in visit_rows)
    assert any(r.after and r.after.get("status") == "scheduled" for r in visit_rows)


def test_views_and_exports_are_audited(sign_in, team, world, db):
    client = sign_in("coord_bj")
    client.get(f"/staff/participants/{world.bj.id}")
    response = client.get("/staff/participants.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "study_id" and [r[0] for r in rows[1:]] == [world.bj.study_code]
    actions = _actions(db, team.users["coord_bj"].id)
    assert "participant.view" in actions and "roster.export" in actions


def test_enrol_edit_and_withdraw(sign_in, team, world, db):
    client = sign_in("coord_bj")
    response = client.post("/staff/participants/new", data={
        "study_code": "BJ-0777", "full_name": "王芳", "phone": "139 1234 5678", "preferred_locale": "zh_Hans_CN",
        "site": "BJ", "arm": "control", "day0": "2026-12-10"})  # fmt: skip
    assert response.status_code == 302
    pid = int(response.headers["Location"].rsplit("/", 1)[1])
    assert db.scalars(select(Visit).where(Visit.participant_id == pid)).all()
    # Another site is not offered, and refused.
    response = client.post("/staff/participants/new", data={
        "study_code": "SH-0778", "full_name": "李", "phone": "13912345679", "preferred_locale": "en",
        "site": "SH", "arm": "control", "day0": "2026-12-10"})  # fmt: skip
    assert response.status_code == 200
    edit = {"full_name": "王芳", "phone": "13912345670", "preferred_locale": "en", "reason": "new phone"}
    assert client.post(f"/staff/participants/{pid}/edit", data=edit).status_code == 302
    assert client.post(f"/staff/participants/{pid}/end", data={
        "status": "withdrawn", "on": "2026-12-20", "reason": "moved away"}).status_code == 302  # fmt: skip
    open_after = db.scalars(select(Visit).where(Visit.participant_id == pid, Visit.target_date >= date(2026, 12, 20),
                                                Visit.status != "cancelled")).all()  # fmt: skip
    assert open_after == []
    edit = db.scalar(select(AuditEvent).where(AuditEvent.action == "participant.edit"))
    assert edit.before["phone"] == "+8613912345678" and edit.after["phone"] == "+8613912345670"
    assert edit.reason == "new phone"
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "participant.withdrawn")).reason == "moved away"


def test_results_entry_correction_and_release(sign_in, team, world, db):
    from portal.audit import SYSTEM
    from portal.schedule import complete_visit

    bl = visit_by_code(db, world.bj, "BL")
    complete_visit(db, bl, bl.target_date, SYSTEM)
    db.commit()
    coord = sign_in("coord_bj")
    form = {"collected_on": "2026-12-01", "ascites": "2", "encephalopathy": "1",
            "v_TBIL": "3.0", "u_TBIL": "mg/dL", "v_CREA": "132.6", "u_CREA": "µmol/L", "v_INR": "2.0",
            "v_NA": "130", "v_ALB": "30", "u_ALB": "g/L", "v_ALT": "99999"}  # fmt: skip
    page = coord.post(f"/staff/visits/{bl.id}/results", data=form).get_data(as_text=True)
    assert "plausible" in page  # ALT 99999 refused, nothing saved
    assert db.scalar(select(ResultPanel)) is None
    form["v_ALT"] = "56"
    response = coord.post(f"/staff/visits/{bl.id}/results", data=form)
    assert response.status_code == 302
    panel = db.scalar(select(ResultPanel))
    assert (panel.meld, panel.meld_na, panel.child_pugh_class) == (22, 26, "B")
    assert {v.analyte: v.value for v in panel.values}["TBIL"] == 51.3  # stored in µmol/L
    coord.post(f"/staff/results/{panel.id}/correct", data={"analyte": "INR", "value": "1.0", "reason": "typo"})
    assert coord.post(f"/staff/results/{panel.id}/release", data={"notify": "y"}).status_code == 403
    inv = sign_in("inv_bj")
    assert inv.post(f"/staff/results/{panel.id}/release", data={"notify": "y"}).status_code == 302
    db.expire_all()
    panel = db.get(ResultPanel, panel.id)
    assert panel.released_at is not None and panel.meld < 22
    note = db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "notification"))
    assert "portal" in note.body or "门户" in note.body or "平台" in note.body
    for word in ("MELD", "INR", "肝", "cirrhosis"):
        assert word not in note.body
    actions = [e.action for e in db.scalars(select(AuditEvent))]
    assert {"results.enter", "results.correct", "results.release"} <= set(actions)
    correction = db.scalar(select(AuditEvent).where(AuditEvent.action == "results.correct"))
    assert correction.before == {"INR": 2.0} and correction.reason == "typo"


def test_bulk_message_counts_confirms_and_excludes_opted_out(sign_in, team, make_participant, world, db):
    quiet = make_participant(site="BJ")
    quiet.sms_opt_out = True
    db.commit()
    client = sign_in("coord_bj")
    site_id = str(world.bj.site_id)
    page = client.post("/staff/messages/bulk", data={"site": site_id, "template": "portal_news"}).get_data(as_text=True)
    assert quiet.study_code in page  # shown as excluded
    assert db.scalar(select(OutboxMessage).where(OutboxMessage.kind == "staff")) is None  # nothing before confirm
    client.post("/staff/messages/bulk", data={"site": site_id, "template": "portal_news", "confirm": "1"})
    sent = db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "staff")).all()
    assert [m.participant_id for m in sent] == [world.bj.id]
    # another site's id is refused
    sh_site = str(world.sh.site_id)
    client.post("/staff/messages/bulk", data={"site": sh_site, "template": "portal_news", "confirm": "1"})
    assert len(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "staff")).all()) == 1
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "message.bulk")).after["excluded"] == 1


def test_forbidden_words_and_preview(sign_in, world):
    client = sign_in("coord_bj")
    response = client.post(f"/staff/participants/{world.bj.id}/messages/preview", data={"body": "干细胞输注提醒"})
    assert response.json["problem"]
    response = client.post(f"/staff/participants/{world.bj.id}/messages/preview", data={"template": "call_us"})
    assert response.json["segments"] == 1 and "研究" in response.json["body"]


def test_admin_audit_filter_and_export(sign_in, team, world, db):
    coord = sign_in("coord_bj")
    coord.get(f"/staff/participants/{world.bj.id}")
    admin = sign_in("admin")
    page = admin.get(f"/staff/admin/audit?action=participant.view&study_code={world.bj.study_code}")
    assert "participant.view" in page.get_data(as_text=True)
    body = admin.get("/staff/admin/audit.csv?action=participant.").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and all(r["action"].startswith("participant.") for r in rows)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "audit.export")) is not None
    assert (datetime.now(UTC) - db.scalar(select(AuditEvent).order_by(AuditEvent.id.desc())).occurred_at
            < timedelta(minutes=5))  # fmt: skip


@time_machine.travel(datetime(2026, 12, 29, 1, 0, tzinfo=UTC), tick=False)
def test_worklist_shows_booked_times_in_the_sites_time_zone(sign_in, world, db):
    world.bj.site.timezone = "Asia/Urumqi"  # UTC+6, two hours behind the portal's default zone
    db.commit()
    client = sign_in("coord_bj")
    w4 = visit_by_code(db, world.bj, "W4")
    assert client.post(f"/staff/visits/{w4.id}", data={"action": "schedule", "day": "2026-12-29",
                                                       "at": "09:30"}).status_code == 302  # fmt: skip
    page = client.get("/staff/worklist").get_data(as_text=True)
    today = page.split("<h2>", 2)[1]  # the "Today" section comes first
    assert "<td>2026-12-29</td>" in today and "<td>09:30</td>" in today and "11:30" not in page
    for path in (f"/staff/visits/{w4.id}", f"/staff/participants/{world.bj.id}"):  # the same time everywhere
        page = client.get(path).get_data(as_text=True)
        assert "2026-12-29 09:30" in page and "11:30" not in page, path


def test_roster_shows_the_status_of_the_newest_message(sign_in, world, db):
    from portal.outbox import queue_sms

    older = queue_sms(db, to_number=world.bj.phone_e164, body="a", kind="staff", locale="en",
                      participant_id=world.bj.id)  # fmt: skip
    newer = queue_sms(db, to_number=world.bj.phone_e164, body="b", kind="staff", locale="en",
                      participant_id=world.bj.id)  # fmt: skip
    older.status, newer.status = "delivered", "failed"
    older.created_at = datetime(2026, 11, 1, tzinfo=UTC)
    newer.created_at = datetime(2026, 11, 2, tzinfo=UTC)
    db.commit()
    page = sign_in("coord_bj").get(f"/staff/participants?q={world.bj.study_code}").get_data(as_text=True)
    row = page.split(world.bj.study_code + "</a>", 1)[1].split("</tr>", 1)[0]
    assert row.rstrip().endswith("<td>Failed</td>")


def test_roster_pages_count_every_match_and_a_stale_page_link_shows_the_last_page(make_participant, world, db):
    from portal import roster

    for _ in range(4):
        make_participant(site="BJ")
    site_ids = {world.bj.site_id}
    everyone = roster.search(db, site_ids, roster.RosterFilter(), date(2026, 12, 1), page_size=100)
    assert everyone.total == len(everyone.rows) >= 5
    codes = [r.study_code for r in everyone.rows]

    first = roster.search(db, site_ids, roster.RosterFilter(page=1), date(2026, 12, 1), page_size=2)
    assert (first.total, first.page, first.pages) == (everyone.total, 1, -(-everyone.total // 2))
    assert [r.study_code for r in first.rows] == codes[:2]
    stale = roster.search(db, site_ids, roster.RosterFilter(page=99), date(2026, 12, 1), page_size=2)
    assert (stale.total, stale.page) == (everyone.total, first.pages)
    assert [r.study_code for r in stale.rows] == codes[(first.pages - 1) * 2:]
    none = roster.search(db, site_ids, roster.RosterFilter(q="no such person", page=3), date(2026, 12, 1))
    assert (none.rows, none.total, none.page, none.pages) == ([], 0, 1, 1)


def test_roster_filters_each_narrow_the_match(make_participant, world, db):
    from portal import roster

    control = make_participant(site="BJ", arm="control", name="王小明", phone="+8613900004321", day0=date(2027, 3, 1))
    both = {world.bj.site_id, world.sh.site_id}

    def codes(**given):
        page = roster.search(db, both, roster.RosterFilter(**given), date(2026, 12, 1))
        assert page.total == len(page.rows)
        return {r.study_code for r in page.rows}

    everyone = codes()
    assert {world.bj.study_code, world.sh.study_code, control.study_code} <= everyone
    assert codes(q="4321") == {control.study_code}  # last four phone digits
    assert codes(q="小明") == {control.study_code}
    assert codes(q=world.sh.study_code.lower()) == {world.sh.study_code}
    assert codes(arm="control") == {control.study_code}
    assert codes(site="SH") == {world.sh.study_code}
    assert codes(status="withdrawn") == set()
    assert codes(next_from=date(2027, 2, 1)) == {control.study_code}
    assert control.study_code not in codes(next_to=date(2027, 1, 1))
    assert codes(site="BJ", arm="control", q="4321", sort="next_visit") == {control.study_code}


@time_machine.travel(datetime(2027, 6, 1, 1, 0, tzinfo=UTC), tick=False)
def test_worklist_pager_links_turn_one_section_and_keep_the_others(sign_in, team, world, db, monkeypatch):
    import html
    import re

    from portal import worklist

    monkeypatch.setattr(worklist, "PAGE_SIZE", 1)
    client = sign_in("coord_bj")
    first = client.get("/staff/worklist?week_page=1").get_data(as_text=True)
    overdue = first[first.index('<h2>Overdue'):]
    assert "Page 1 of" in overdue
    link = html.unescape(re.search(r'<nav class="pager".*?<a href="([^"]+)">Next', overdue, re.S).group(1))
    assert link.startswith("/staff/worklist?") and "week_page=1" in link and "overdue_page=2" in link
    second = client.get(link).get_data(as_text=True)
    turned = second[second.index('<h2>Overdue'):]
    assert "Page 2 of" in turned
    visit_link = re.compile(r'href="(/staff/visits/\d+)"')
    assert visit_link.search(turned).group(1) != visit_link.search(overdue).group(1)
