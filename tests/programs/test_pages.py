"""The program pages: the list, the HTMX builder, lifecycle, badges, enrollments and analytics."""

import html as html_lib
import uuid

import pytest

from app.extensions import db
from app.models import Enrollment, EnrollmentStatus, Program, ProgramVersion
from app.programs import services
from tests.conftest import csrf_token_from

HX = {"HX-Request": "true"}


class Page:
    """A logged-in dashboard client with the page's CSRF token."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def post(self, url, htmx=True, **data):
        return self.client.post(url, data={"csrf_token": self.token, **data}, headers=HX if htmx else {})

    def text(self, url) -> str:
        response = self.client.get(url)
        assert response.status_code == 200, response.status_code
        return html_lib.unescape(response.get_data(as_text=True))


@pytest.fixture
def page(client, creator, page_login):
    page_login(client, creator.email)
    return Page(client, csrf_token_from(client.get("/programs/").get_data(as_text=True)))


def draft_of(app, program_id) -> dict:
    with app.app_context():
        return db.session.get(Program, uuid.UUID(str(program_id))).flow_definition


def new_program(page, name="First week") -> str:
    response = page.post("/programs/new", htmx=False, name=name, description="Seven days to a habit")
    assert response.status_code == 302
    return response.headers["Location"].rstrip("/").split("/")[-1]


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


# --- Pages render ----------------------------------------------------------------------


def test_every_page_renders(page, creator, published_program, web_user):
    program_id, badge_id = published_program(creator)
    listing = page.text("/programs/")
    assert "Couch to 5k" in listing and "v1" in listing
    builder = page.text(f"/programs/{program_id}")
    assert 'class="flow-diagram"' in builder and "Ready to run today?" in builder
    assert "✓ The flow is valid" in builder and ">yes</text>" in builder and ">no</text>" in builder
    assert "v1" in builder and "live" in builder  # the versions list
    assert page.text(f"/programs/{program_id}/versions/1").count('class="flow-node ') == 7
    enrollments = page.text(f"/programs/{program_id}/enrollments")
    assert "Drop-off by step" in enrollments and "Nobody is enrolled yet." in enrollments
    web_user(creator, "Dana Runner")
    assert "Dana Runner · web" in page.text(f"/programs/{program_id}/enrollments")  # offered in the enroll form
    assert "First run" in page.text("/programs/badges")
    filtered = page.client.get("/programs/?status=draft&q=couch", headers=HX)
    assert "No program matches these filters." in body(filtered) and "<html" not in body(filtered)
    assert page.client.get(f"/programs/{program_id}/versions/9").status_code == 404


def test_a_new_program_needs_a_name(page):
    response = page.post("/programs/new", htmx=False, name=" ")
    assert response.status_code == 422 and "This field is required." in body(response)


def test_the_address_of_a_refused_form_leads_back_to_its_page(page, creator, published_program):
    """After a refused form the address bar shows the POST's URL: opening it again is no 405."""
    program_id, _ = published_program(creator)
    assert page.client.get("/programs/new").headers["Location"].endswith("/programs/")
    settings = page.client.get(f"/programs/{program_id}/settings")
    assert settings.status_code == 302 and settings.headers["Location"].endswith(f"/programs/{program_id}#settings")


# --- Building a flow -------------------------------------------------------------------


def test_build_connect_and_publish_through_the_builder(app, page):
    program_id = new_program(page)
    base = f"/programs/{program_id}"
    assert draft_of(app, program_id)["nodes"][0]["type"] == "start"

    added = page.post(f"{base}/nodes", kind="send_message")
    assert added.status_code == 200
    fragment = body(added)
    # The node list, with the diagram, the problems and the state swapped out of band.
    assert fragment.lstrip().startswith('<div id="node-list"')
    assert '<div id="diagram" class="flow-diagram-wrap" hx-swap-oob="true">' in fragment
    assert 'id="problems"' in fragment and 'id="program-state"' in fragment
    assert "No path from the start reaches this step." in fragment  # message_1 is not connected yet
    assert "— none: the program ends here —" in fragment  # a step with no next one is the last
    assert "flow-node-error" in fragment
    page.post(f"{base}/nodes", kind="ask_question")
    nodes = [n["id"] for n in draft_of(app, program_id)["nodes"]]
    assert nodes == ["start", "message_1", "question_1", "end"]  # new steps go before the closing end

    saved = page.post(
        f"{base}/nodes/message_1", **{"message_1-message": "Welcome {first_name|friend}!", "message_1-delay_hours": "0"}
    )
    assert saved.status_code == 200
    page.post(
        f"{base}/nodes/question_1",
        **{"question_1-question": "Ready?", "question_1-choices": "Yes\n\nNot yet\n", "question_1-save_to": ""},
    )
    page.post(f"{base}/nodes/start/connect", next="message_1")
    page.post(f"{base}/nodes/message_1/connect", next="question_1")
    connected = page.post(f"{base}/nodes/question_1/connect", next="end")
    assert "✓ The flow is valid: it can be published." in body(connected)
    assert 'class="flow-edge"' in body(connected) and "flow-node-error" not in body(connected)

    flow = draft_of(app, program_id)
    assert flow["nodes"][1]["data"] == {"message": "Welcome {first_name|friend}!", "delay_hours": 0}
    assert flow["nodes"][2]["data"] == {"question": "Ready?", "choices": ["Yes", "Not yet"]}
    assert {(e["source"], e["target"]) for e in flow["edges"]} == {
        ("start", "message_1"),
        ("message_1", "question_1"),
        ("question_1", "end"),
    }

    published = page.post(f"{base}/publish", htmx=False)
    assert published.status_code == 302
    builder = page.text(base)
    assert "Version 1 published" in builder and "version 1 live" in builder
    with app.app_context():
        [version] = db.session.query(ProgramVersion).all()
        assert version.number == 1 and version.flow_definition == flow


def test_a_condition_gets_yes_and_no_and_steps_move_and_delete(app, page):
    program_id = new_program(page)
    base = f"/programs/{program_id}"
    page.post(f"{base}/nodes", kind="ask_question")
    page.post(f"{base}/nodes", kind="condition")
    page.post(f"{base}/nodes", kind="wait")
    condition = next(n for n in draft_of(app, program_id)["nodes"] if n["id"] == "condition_1")
    # A new condition branches on the latest question's first choice.
    assert condition["data"] == {"field": "answer.question_1", "operator": "equals", "value": "Great"}
    response = page.post(f"{base}/nodes/condition_1/connect", yes="end", no="wait_1")
    assert ">yes</text>" in body(response) and ">no</text>" in body(response)
    edges = draft_of(app, program_id)["edges"]
    assert {(e["target"], e.get("branch")) for e in edges if e["source"] == "condition_1"} == {
        ("end", "yes"),
        ("wait_1", "no"),
    }
    page.post(f"{base}/nodes/condition_1/connect", yes="wait_1", no="")  # replaces both ways out
    edges = draft_of(app, program_id)["edges"]
    assert [(e["target"], e.get("branch")) for e in edges if e["source"] == "condition_1"] == [("wait_1", "yes")]
    assert "A condition needs one 'yes' and one 'no' way out." in page.text(base)

    page.post(f"{base}/nodes/wait_1/move", direction="up")
    flow = draft_of(app, program_id)
    assert [n["id"] for n in flow["nodes"]] == ["start", "question_1", "wait_1", "condition_1", "end"]
    assert [n["position"]["y"] for n in flow["nodes"]] == [0, 100, 200, 300, 400]

    page.post(f"{base}/nodes/wait_1/delete")
    flow = draft_of(app, program_id)
    assert "wait_1" not in [n["id"] for n in flow["nodes"]]
    assert all("wait_1" not in (e["source"], e["target"]) for e in flow["edges"])
    refused = page.post(f"{base}/nodes/start/delete")
    assert refused.status_code == 422 and "The start step stays" in body(refused)
    gone = page.post(f"{base}/nodes/nope/connect", next="end")
    assert gone.status_code == 422 and "no longer in the flow" in body(gone)
    assert page.post(f"{base}/nodes/start/connect", next="ghost").status_code == 422
    assert draft_of(app, program_id) == flow


def test_a_bad_node_field_is_refused_on_the_node_and_the_draft_keeps_its_value(app, page):
    program_id = new_program(page)
    base = f"/programs/{program_id}"
    page.post(f"{base}/nodes", kind="send_message")
    before = draft_of(app, program_id)
    response = page.post(f"{base}/nodes/message_1", **{"message_1-message": "Hi", "message_1-delay_hours": "-1"})
    assert response.status_code == 422
    text = body(response)
    assert "Not saved: correct the fields marked below." in text
    assert "Must not be negative." in text and 'value="-1"' in text  # the submitted value, shown back
    assert draft_of(app, program_id) == before
    not_a_number = page.post(f"{base}/nodes/message_1", **{"message_1-message": "Hi", "message_1-delay_hours": "soon"})
    assert not_a_number.status_code == 422 and "Not a valid float value." in body(not_a_number)
    wait = page.post(f"{base}/nodes", kind="wait")
    assert wait.status_code == 200
    both = page.post(f"{base}/nodes/wait_1", **{"wait_1-hours": "2", "wait_1-until_time": "08:00"})
    assert "Wait either a number of hours or until a time, not both." in body(both)
    assert next(n for n in draft_of(app, program_id)["nodes"] if n["id"] == "wait_1")["data"] == {"hours": 24}
    # Without HTMX the same refusal is the whole builder page, with the node's editor open.
    full = page.post(f"{base}/nodes/message_1", htmx=False, **{"message_1-delay_hours": "-1"})
    assert full.status_code == 422 and "<html" in body(full) and "Must not be negative." in body(full)


def test_a_published_programs_edits_go_to_the_draft_and_versions_stay(app, page, creator, published_program):
    program_id, _ = published_program(creator)
    base = f"/programs/{program_id}"
    with app.app_context():
        frozen = db.session.query(ProgramVersion).one().flow_definition
    response = page.post(f"{base}/nodes/welcome", **{"welcome-message": "Hello again!", "welcome-delay_hours": "1"})
    assert response.status_code == 200
    assert "unpublished changes — version 2 on publish" in body(response)
    assert next(n for n in draft_of(app, program_id)["nodes"] if n["id"] == "welcome")["data"]["message"] == (
        "Hello again!"
    )
    version_page = page.text(f"{base}/versions/1")
    assert "Message: Welcome {first_name|friend} to" in version_page and "Hello again" not in version_page
    with app.app_context():
        assert db.session.query(ProgramVersion).one().flow_definition == frozen
    page.post(f"{base}/publish", htmx=False)
    assert "Version 2 published" in page.text(base)
    with app.app_context():
        versions = {v.number: v.flow_definition for v in db.session.query(ProgramVersion)}
    assert versions[1] == frozen and versions[2]["nodes"][1]["data"]["message"] == "Hello again!"


def test_publishing_an_invalid_draft_shows_the_problems_on_the_nodes(app, page):
    program_id = new_program(page)
    base = f"/programs/{program_id}"
    page.post(f"{base}/nodes", kind="send_message")  # added, not connected
    response = page.post(f"{base}/publish", htmx=False)
    # Back at the builder's own URL (a reload GETs it, nothing is POSTed again), with the problems.
    assert response.status_code == 303 and response.headers["Location"] == base
    text = page.text(base)
    assert "The flow is not valid: see the problem on each node." in text
    assert (
        'id="node-message_1"' in text and "has-errors" in text and "No path from the start reaches this step." in text
    )
    assert "The flow is not valid" not in page.text(base)  # the refusal is told once, the problems stay
    assert "No path from the start reaches this step." in page.text(base)
    with app.app_context():
        assert db.session.query(ProgramVersion).count() == 0


def test_archive_blocks_edits_and_restore_allows_them(app, page, creator, published_program):
    program_id, _ = published_program(creator)
    base = f"/programs/{program_id}"
    page.post(f"{base}/archive", htmx=False)
    archived = page.text(base)
    assert "This program is archived" in archived and "Restore" in archived and 'id="add-kind"' not in archived
    before = draft_of(app, program_id)
    refused = page.post(f"{base}/nodes", kind="wait")
    assert refused.status_code == 409 and "Restore it before editing." in body(refused)
    assert draft_of(app, program_id) == before
    page.post(f"{base}/restore", htmx=False)
    assert "is restored (published)" in page.text(base)
    assert page.post(f"{base}/nodes", kind="wait").status_code == 200


def test_a_draft_can_be_deleted_but_a_published_program_cannot(app, page, creator, published_program):
    draft_id = new_program(page, "Scratch")
    assert page.post(f"/programs/{draft_id}/delete", htmx=False).status_code == 302
    assert page.client.get(f"/programs/{draft_id}").status_code == 404
    program_id, _ = published_program(creator)
    page.post(f"/programs/{program_id}/delete", htmx=False)
    assert "archive it instead" in page.text(f"/programs/{program_id}")


# --- Settings and badges ----------------------------------------------------------------


def test_settings_are_saved_and_bad_ones_shown_on_their_field(app, page, creator, published_program):
    program_id, badge_id = published_program(creator)
    base = f"/programs/{program_id}"
    form = {"name": "Couch to 5k", "enroll_keyword": "stop", "quiet_start": "21:00", "quiet_end": "08:00"}
    response = page.post(f"{base}/settings", htmx=False, **form)
    assert response.status_code == 422 and "STOP is reserved for consent" in body(response)
    same = {"name": "Couch to 5k", "quiet_start": "09:00", "quiet_end": "09:00"}
    assert "Quiet hours are" in body(page.post(f"{base}/settings", htmx=False, **same))
    with app.app_context():
        assert db.session.get(Program, program_id).settings.get("enroll_keyword") is None
    good = {
        "name": "C25K",
        "enroll_keyword": "run5k",
        "widget_enroll": "y",
        "quiet_off": "y",
        "completion_badge": badge_id,
    }
    assert page.post(f"{base}/settings", htmx=False, **good).status_code == 302
    with app.app_context():
        program = db.session.get(Program, program_id)
        assert program.name == "C25K" and program.has_unpublished_changes
        assert program.settings == {
            "auto_enroll": False,
            "widget_enroll": True,
            "enroll_keyword": "RUN5K",
            "completion_badge": str(badge_id),
            "quiet_hours": None,
        }
    assert 'value="RUN5K"' in page.text(base)


def test_badges_are_created_listed_in_the_badge_step_and_deleted(app, page, creator):
    created = page.post("/programs/badges", htmx=False, name="Early bird", icon="🐦", description="Ran before 7")
    assert created.status_code == 302
    assert "🐦" in page.text("/programs/badges")
    duplicate = page.post("/programs/badges", htmx=False, name="Early bird")
    assert duplicate.status_code == 422 and "You already have a badge called 'Early bird'." in body(duplicate)
    program_id = new_program(page)
    page.post(f"/programs/{program_id}/nodes", kind="award_badge")
    with app.app_context():
        [badge] = services.badges(uuid.UUID(creator.creator_id))
    node = next(n for n in draft_of(app, program_id)["nodes"] if n["type"] == "award_badge")
    assert node["data"] == {"badge_id": str(badge.id)}  # the first badge, chosen for you
    assert "🐦 Early bird" in page.text(f"/programs/{program_id}")
    page.post(f"/programs/badges/{badge.id}/delete", htmx=False)  # refused: the step still awards it
    badges_page = page.text("/programs/badges")
    assert "awards this badge: remove it from them first." in badges_page and "🐦" in badges_page
    page.post(f"/programs/{program_id}/nodes/{node['id']}/delete")
    page.post(f"/programs/badges/{badge.id}/delete", htmx=False)
    assert "Badge Early bird deleted." in page.text("/programs/badges")
    with app.app_context():
        assert services.badges(uuid.UUID(creator.creator_id)) == []


# --- Enrollments ------------------------------------------------------------------------


def test_enroll_from_the_page_then_409_and_unenroll(app, page, creator, published_program, web_user, run_jobs):
    program_id, _ = published_program(creator)
    user_id = web_user(creator, "Dana Runner")
    base = f"/programs/{program_id}/enrollments"
    options = page.client.get(f"{base}/users?user_q=dana", headers=HX)
    assert f'<option value="{user_id}">Dana Runner · web</option>' in body(options)
    assert page.post(base, htmx=False, user_id=str(user_id)).status_code == 302
    run_jobs()
    listing = page.text(base)
    assert "Dana Runner is enrolled" in listing and "waiting for the answer" in listing
    assert "Question: Ready to run today?" in listing and "dashboard" in listing
    again = page.post(base, htmx=False, user_id=str(user_id))
    assert again.status_code == 422 and "Dana Runner is already enrolled in “Couch to 5k”." in body(again)
    no_phone = page.post(base, htmx=False, user_id=str(user_id), channel="sms")
    assert no_phone.status_code == 422 and "Dana Runner has no phone number." in body(no_phone)
    assert "Choose a user." in body(page.post(base, htmx=False, user_id=""))
    with app.app_context():
        enrollment = db.session.query(Enrollment).one()
    assert page.post(f"{base}/{enrollment.id}/unenroll", htmx=False).status_code == 302
    exited = page.text(f"{base}?status=exited")
    assert "unenrolled by the creator" in exited and f'id="enrollment-{enrollment.id}"' in exited
    assert "Nobody is enrolled yet." not in exited
    assert "No enrollment with this status." in page.text(f"{base}?status=completed")
    with app.app_context():
        assert db.session.get(Enrollment, enrollment.id).status == EnrollmentStatus.EXITED


def test_analytics_and_drop_off_show_on_the_enrollments_page(page, creator, published_program, web_user, run_jobs):
    program_id, _ = published_program(creator)
    for name in ("Ann", "Ben"):
        page.post(f"/programs/{program_id}/enrollments", htmx=False, user_id=str(web_user(creator, name)))
    run_jobs()
    text = page.text(f"/programs/{program_id}/enrollments")
    assert '<span class="stat-value">2</span><span class="stat-label">enrollments</span>' in text
    assert '<span class="stat-value">2</span><span class="stat-label">active now</span>' in text
    assert "Question: Ready to run today?" in text and "2 reached · 2 now · 0 stopped" in text


def test_a_draft_takes_no_enrollments(page):
    program_id = new_program(page)
    assert "Publish the program before enrolling anyone." in page.text(f"/programs/{program_id}/enrollments")


# --- Who may see what --------------------------------------------------------------------


def test_agents_get_403(client, creator, make_member, page_login, published_program):
    program_id, _ = published_program(creator)
    page_login(client, make_member(creator, "agent").email)
    for url in ("/programs/", f"/programs/{program_id}", f"/programs/{program_id}/enrollments", "/programs/badges"):
        assert client.get(url).status_code == 403


def test_another_creators_program_is_404(app, client, two_creators, page_login, published_program, web_user):
    alice, bob = two_creators
    program_id, badge_id = published_program(alice)
    alice_user = web_user(alice)
    page_login(client, bob.email)
    page = Page(client, csrf_token_from(client.get("/programs/").get_data(as_text=True)))
    base = f"/programs/{program_id}"
    for url in (base, f"{base}/enrollments", f"{base}/versions/1", f"{base}/enrollments/users"):
        assert client.get(url).status_code == 404
    for url, data in (
        (f"{base}/nodes", {"kind": "wait"}),
        (f"{base}/nodes/welcome", {"welcome-message": "Mine now"}),
        (f"{base}/nodes/welcome/connect", {"next": "end"}),
        (f"{base}/nodes/welcome/delete", {}),
        (f"{base}/publish", {}),
        (f"{base}/archive", {}),
        (f"{base}/preview", {"answers": "Yes"}),
        (f"{base}/enrollments", {"user_id": str(alice_user)}),
        (f"/programs/badges/{badge_id}/delete", {}),
    ):
        assert page.post(url, htmx=False, **data).status_code == 404, url
    # Bob cannot enroll Alice's user in his own program either.
    bob_program = new_program(page, "Bob's")
    page.post(f"/programs/{bob_program}/nodes/start/connect", next="end")
    page.post(f"/programs/{bob_program}/publish", htmx=False)
    response = page.post(f"/programs/{bob_program}/enrollments", htmx=False, user_id=str(alice_user))
    assert response.status_code == 422 and "User not found." in body(response)
    with app.app_context():
        assert db.session.query(Enrollment).count() == 0
        assert db.session.get(Program, program_id).status == "published"
