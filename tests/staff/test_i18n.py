"""The console follows the staff member's language; SMS follow the participant's."""

from sqlalchemy import select

from portal.models import OutboxMessage


def test_console_in_chinese_for_a_chinese_speaking_coordinator(sign_in, team, db, world):
    team.users["coord_bj"].preferred_locale = "zh_Hans_CN"
    db.commit()
    client = sign_in("coord_bj")
    page = client.get("/staff/worklist").get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page and "工作清单" in page and "改期申请" in page
    page = client.get(f"/staff/participants/{world.bj.id}").get_data(as_text=True)
    assert "访视" in page and "Visits" not in page
    page = client.get("/staff/news").get_data(as_text=True)
    assert "<th>已读</th>" in page  # "Read" as in "has read it", not the patient's "阅读" button


def test_template_message_is_rendered_in_the_participants_language(sign_in, make_participant, db, world):
    english = make_participant(site="BJ", locale="en")
    client = sign_in("coord_bj")
    client.post(f"/staff/participants/{english.id}/messages", data={"template": "bring_documents"})
    client.post(f"/staff/participants/{world.bj.id}/messages", data={"template": "bring_documents"})
    bodies = {m.participant_id: m.body for m in db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "staff"))}
    assert "ID card" in bodies[english.id]
    assert "身份证" in bodies[world.bj.id] and bodies[world.bj.id].startswith("【")
    assert len(bodies[world.bj.id]) <= 70
