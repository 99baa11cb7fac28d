"""Preview as a test user: a dry run of the draft that stores and sends nothing."""

import html as html_lib
import uuid

from sqlalchemy import func, select

from app.extensions import db
from app.models import Enrollment, Memory, Message, Program, UserBadge
from app.programs import preview, services
from tests.conftest import csrf_token_from
from tests.programs.conftest import coaching_flow

HX = {"HX-Request": "true"}


def run(app, program_id, answers, name="Dana Runner", fields=None, tags=()):
    with app.app_context():
        program = db.session.get(Program, program_id)
        transcript = preview.run(program, preview.TestUser.of(name, fields or {}, list(tags)), answers)
        return [(line.kind, line.text) for line in transcript.lines], transcript


def test_yes_takes_the_badge_branch_to_the_end(app, creator, published_program):
    program_id, badge_id = published_program(creator)
    lines, transcript = run(app, program_id, ["Yes"])
    with app.app_context():
        badge = services.get_badge(uuid.UUID(creator.creator_id), badge_id)
    assert lines == [
        ("message", "Welcome Dana to Couch to 5k!"),
        ("question", "Ready to run today?"),
        ("answer", "Yes"),
        ("branch", "answer.ready equals Yes? → took “yes”"),
        ("badge", f"Badge awarded: 🏅 {badge.name}"),
        ("message", f"You earned {badge.name}!"),
        ("message", "Well done, Dana."),
        ("end", "End: the program is complete."),
    ]
    assert transcript.finished and transcript.lines[1].choices == ["Yes", "Not yet"]


def test_the_last_step_without_a_way_out_completes_the_preview(app, creator):
    with app.app_context():
        creator_id = uuid.UUID(creator.creator_id)
        badge = services.create_badge(creator_id, "Welcomed", icon="🎉")
        definition = {
            "nodes": [
                {"id": "start", "type": "start", "data": {}},
                {"id": "message_1", "type": "send_message", "data": {"message": "Welcome to the program!"}},
            ],
            "edges": [{"id": "e1", "source": "start", "target": "message_1"}],
        }
        program, _ = services.create_program(
            creator_id, {"name": "Welcome", "flow_definition": definition, "settings": {"completion_badge": badge.id}}
        )
        program_id = program.id
    lines, transcript = run(app, program_id, [])
    assert lines == [
        ("message", "Welcome to the program!"),
        ("badge", "Badge awarded: 🎉 Welcomed"),
        ("end", "End: the program is complete."),
    ]
    assert transcript.finished


def test_not_yet_takes_the_wait_branch(app, creator, published_program):
    program_id, _ = published_program(creator)
    lines, transcript = run(app, program_id, ["not"], name="")  # "not" starts only one choice: Not yet
    assert lines == [
        ("message", "Welcome friend to Couch to 5k!"),
        ("question", "Ready to run today?"),
        ("answer", "not"),
        ("branch", "answer.ready equals Yes? → took “no”"),
        ("wait", "waits 24 h"),
        ("message", "Well done, friend."),
        ("end", "End: the program is complete."),
    ]
    assert transcript.finished


def test_it_stops_at_the_first_unanswered_question_and_re_asks_a_reply_that_is_no_choice(
    app, creator, published_program
):
    program_id, _ = published_program(creator)
    lines, transcript = run(app, program_id, [])
    assert lines[-1] == ("note", "Waits for the answer: add one to the answers to go on.")
    assert transcript.waiting_on == "ready" and not transcript.finished
    lines, transcript = run(app, program_id, ["Maybe", "2", "extra"])
    assert ("reprompt", "Please answer with one of: Yes, Not yet.") in lines
    assert ("branch", "answer.ready equals Yes? → took “no”") in lines  # "2" is the second choice
    assert transcript.unused_answers == ["extra"]


def test_profile_fields_tags_waits_until_a_time_and_the_ai_coach(app, creator):
    flow = {
        "nodes": [
            {"id": "start", "type": "start", "data": {}},
            {"id": "tagged", "type": "condition", "data": {"field": "tag", "operator": "equals", "value": "VIP"}},
            {"id": "coach", "type": "ai_coach", "data": {"goal": "Plan {profile.goal|a first run}"}},
            {"id": "sunday", "type": "wait", "data": {"until_time": "08:30", "weekday": "sunday"}},
            {"id": "hi", "type": "send_message", "data": {"message": "Go, {memory.shoe|runner}!", "delay_hours": 1.5}},
            {"id": "end", "type": "end", "data": {}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "tagged"},
            {"id": "e2", "source": "tagged", "target": "coach", "branch": "yes"},
            {"id": "e3", "source": "tagged", "target": "sunday", "branch": "no"},
            {"id": "e4", "source": "coach", "target": "sunday"},
            {"id": "e5", "source": "sunday", "target": "hi"},
            {"id": "e6", "source": "hi", "target": "end"},
        ],
    }
    with app.app_context():
        program, _ = services.create_program(uuid.UUID(creator.creator_id), {"name": "P", "flow_definition": flow})
        program_id = program.id
    lines, _ = run(app, program_id, [], fields={"goal": "a 10k", "memory.shoe": "trail"}, tags=["vip"])
    assert lines == [
        ("branch", "tag equals VIP? → took “yes”"),
        ("coach", "(AI coach message about: Plan a 10k)"),
        ("wait", "waits until Sunday 08:30 (UTC)"),
        ("wait", "waits 1.5 h"),
        ("message", "Go, trail!"),
        ("end", "End: the program is complete."),
    ]
    lines, _ = run(app, program_id, [])
    assert lines[0] == ("branch", "tag equals VIP? → took “no”") and ("message", "Go, runner!") in lines


def test_the_page_previews_the_draft_and_stores_nothing(app, client, creator, page_login, published_program):
    program_id, badge_id = published_program(creator)
    page_login(client, creator.email)
    token = csrf_token_from(client.get(f"/programs/{program_id}").get_data(as_text=True))
    with app.app_context():  # the draft differs from version 1: the preview shows the draft
        program = db.session.get(Program, program_id)
        draft = coaching_flow(badge_id)
        draft["nodes"][1]["data"]["message"] = "Draft hello {first_name}"
        services.update_program(program, {"flow_definition": draft}, validate=False)
    response = client.post(
        f"/programs/{program_id}/preview",
        data={"csrf_token": token, "name": "Sam", "profile": "goal: 5k", "answers": "Not yet"},
        headers=HX,
    )
    text = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and text.lstrip().startswith('<div id="preview-panel">')
    assert "Draft hello Sam" in text and "waits 24 h" in text and "End: the program is complete." in text
    with app.app_context():
        for model in (Enrollment, Message, UserBadge, Memory):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0
    bad = client.post(f"/programs/{program_id}/preview", data={"csrf_token": token, "profile": "no colon"}, headers=HX)
    assert bad.status_code == 422 and "“no colon” is not key: value." in html_lib.unescape(bad.get_data(as_text=True))


def test_an_invalid_structure_is_not_previewed(app, client, creator, page_login):
    page_login(client, creator.email)
    token = csrf_token_from(client.get("/programs/").get_data(as_text=True))
    with app.app_context():
        program, _ = services.create_program(uuid.UUID(creator.creator_id), {"name": "Broken"})
        services.update_program(program, {"flow_definition": {**program.flow_definition, "edges": []}}, validate=False)
        program_id = program.id
    _, transcript = run(app, program_id, [])
    assert transcript.lines == [] and [p.message for p in transcript.problems] == ["Connect this step to the next one."]
    response = client.post(f"/programs/{program_id}/preview", data={"csrf_token": token}, headers=HX)
    text = html_lib.unescape(response.get_data(as_text=True))
    assert (
        "The flow cannot be previewed until these are fixed:" in text and "Connect this step to the next one." in text
    )


def test_the_preview_form_splits_tags_as_the_audience_does(app):
    from werkzeug.datastructures import MultiDict

    from app.programs.forms import PreviewForm

    with app.test_request_context():
        form = PreviewForm(
            formdata=MultiDict({"name": "Dana", "tags": "runner; vip|runner, beginner"}), meta={"csrf": False}
        )
        assert form.test_user().tags == ["runner", "vip", "beginner"]
