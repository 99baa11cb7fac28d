"""Bad input to the programs API gets a clear error and loses nothing already stored:
endless loops, duplicate ids, dangling edges, huge flows, negative delays, unknown
variables, edits of published versions, opted-out SMS users, other creators' ids."""

import copy
import json
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Enrollment
from app.programs import services
from tests.messaging.conftest import make_twilio_channel, twilio  # noqa: F401  (fixtures)
from tests.programs.test_api import create_program, enroll, get, post, said, two_step_flow


def message_flow(message: str = "Hello", delay_hours=0) -> dict:
    return {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "msg", "type": "send_message", "data": {"message": message, "delay_hours": delay_hours}},
            {"id": "end", "type": "end", "data": {}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "msg"},
            {"id": "e2", "source": "msg", "target": "end"},
        ],
    }


CODES = {422: "VALIDATION_ERROR", 409: "CONFLICT", 404: "RESOURCE_NOT_FOUND"}


def refused(response, status=422) -> list[dict]:
    """The details of an error answer, after checking it is the envelope with the right code."""
    assert response.status_code == status, response.json
    error = response.json["error"]
    assert error["code"] == CODES[status]
    assert error["message"] and error["request_id"] and error["timestamp"]
    return error["details"]


def program_count(client, account) -> int:
    return get(client, account, "/programs")["pagination"]["total"]


# --- Flows ------------------------------------------------------------------------------


def test_a_loop_without_a_wait_is_refused_on_each_of_its_nodes(client, creator):
    loop = message_flow()
    loop["nodes"].insert(2, {"id": "cond", "type": "condition", "data": {"field": "tag", "operator": "exists"}})
    loop["edges"] = [
        {"id": "e1", "source": "start", "target": "msg"},
        {"id": "e2", "source": "msg", "target": "cond"},
        {"id": "e3", "source": "cond", "target": "msg", "branch": "yes"},
        {"id": "e4", "source": "cond", "target": "end", "branch": "no"},
    ]
    details = refused(
        client.post("/api/v1/programs", headers=creator.headers, json={"name": "Loop", "flow_definition": loop})
    )
    assert {d["node_id"] for d in details} == {"msg", "cond"}
    assert all("loop with no wait" in d["message"] for d in details)
    assert program_count(client, creator) == 0


@pytest.mark.parametrize(
    "change, field, text",
    [
        (
            lambda f: f["nodes"].append({"id": "msg", "type": "end", "data": {}}),
            "flow_definition.nodes.3.id",
            "used twice",
        ),
        (
            lambda f: f["edges"].append({"id": "e3", "source": "msg", "target": "nowhere"}),
            "flow_definition.edges.2.target",
            "'nowhere' is not a node",
        ),
        (
            lambda f: f["nodes"][1]["data"].update(delay_hours=-1),
            "flow_definition.nodes.1.data.delay_hours",
            "negative",
        ),
    ],
    ids=["node id used twice", "edge to a missing node", "delay of minus one hour"],
)
def test_a_broken_flow_is_refused_with_the_node_and_field(client, creator, change, field, text):
    flow = message_flow()
    change(flow)
    details = refused(
        client.post("/api/v1/programs", headers=creator.headers, json={"name": "X", "flow_definition": flow})
    )
    assert [(d["field"], d["node_id"]) for d in details if text in d["message"]] == [(field, "msg")]
    assert program_count(client, creator) == 0


def test_a_10000_node_flow_is_refused_and_an_oversized_body_gets_the_envelope(client, creator):
    compact = {
        "nodes": [{"id": f"n{i}", "type": "end"} for i in range(10_000)],
        "edges": [],
    }
    assert len(json.dumps(compact)) < 1024 * 1024
    details = refused(
        client.post("/api/v1/programs", headers=creator.headers, json={"name": "Huge", "flow_definition": compact})
    )
    assert details[0]["field"] == "flow_definition.nodes" and "at most 200 nodes" in details[0]["message"]

    verbose = copy.deepcopy(compact)
    for node in verbose["nodes"]:
        node.update(position={"x": 0, "y": 0}, data={"message": "A long enough message for every node " * 2})
    too_big = client.post(
        "/api/v1/programs", headers=creator.headers, json={"name": "Huge", "flow_definition": verbose}
    )
    assert too_big.status_code == 413
    assert too_big.json["error"]["code"] == "PAYLOAD_TOO_LARGE" and "bytes" in too_big.json["error"]["message"]
    assert program_count(client, creator) == 0


def test_a_variable_no_user_has_is_a_warning_and_renders_its_fallback_or_blank(client, creator, web_user, run_jobs):
    program = create_program(
        client, creator, flow_definition=message_flow("Hello {favorite_color} runner, {shoe_size|friend}!")
    )
    warnings = program["validation"]["warnings"]
    assert program["validation"]["valid"] is True
    assert [(w["node_id"], w["field"]) for w in warnings] == [("msg", "flow_definition.nodes.1.data.message")] * 2
    assert "{favorite_color}" in warnings[0]["message"] and "{shoe_size}" in warnings[1]["message"]
    assert get(client, creator, f"/programs/{program['id']}")["validation"]["warnings"] == warnings
    post(client, creator, f"/programs/{program['id']}/publish")
    user_id = web_user(creator)
    assert enroll(client, creator, user_id, program["id"]).status_code == 201
    run_jobs()
    assert said(client, creator, user_id) == ["Hello runner, friend!"]


def test_bad_settings_names_and_bodies_are_refused(client, creator):
    cases = [
        ({"name": "X", "settings": {"completion_badge": str(uuid.uuid4())}}, "settings.completion_badge"),
        ({"name": "X", "settings": {"enroll_keyword": "STOP"}}, "settings.enroll_keyword"),
        ({"name": "X", "settings": {"quiet_hours": {"start": "25:00", "end": "08:00"}}}, "settings.quiet_hours"),
        ({"name": "   "}, "name"),
        ({"description": "no name"}, "name"),
        ({"name": "X", "flow_definition": "start -> end"}, "flow_definition"),
        ({"name": "X", "flow_definition": {"nodes": "all of them"}}, "flow_definition"),
    ]
    for body, field in cases:
        details = refused(client.post("/api/v1/programs", headers=creator.headers, json=body))
        assert field in [d["field"] for d in details], body
    malformed = client.post(
        "/api/v1/programs", headers=creator.headers, data='{"name": "X",', content_type="application/json"
    )
    assert malformed.status_code == 400 and malformed.json["error"]["message"] == "The request body is not valid JSON."
    assert program_count(client, creator) == 0


def test_unknown_fields_like_creator_id_are_refused_and_nothing_changes(client, two_creators):
    alice, bob = two_creators
    smuggled = {"creator_id": bob.creator_id, "status": "published", "version": 7, "id": str(uuid.uuid4())}
    details = refused(client.post("/api/v1/programs", headers=alice.headers, json={"name": "Couch to 5k", **smuggled}))
    assert sorted(d["field"] for d in details) == sorted(smuggled)
    assert program_count(client, alice) == 0 and program_count(client, bob) == 0
    program = create_program(client, alice)
    assert (program["status"], program["version"]) == ("draft", 1)
    put = client.put(
        f"/api/v1/programs/{program['id']}", headers=alice.headers, json={"creator_id": bob.creator_id, "version": 3}
    )
    assert sorted(d["field"] for d in refused(put)) == ["creator_id", "version"]
    assert get(client, alice, f"/programs/{program['id']}")["version"] == 1
    assert client.get(f"/api/v1/programs/{program['id']}", headers=bob.headers).status_code == 404


# --- Published versions ------------------------------------------------------------------


def test_a_published_version_cannot_be_edited_and_a_bad_edit_saves_nothing(client, creator):
    program = create_program(client, creator, flow_definition=message_flow("First words"))
    path = f"/api/v1/programs/{program['id']}"
    post(client, creator, f"/programs/{program['id']}/publish")
    for method in (client.put, client.patch, client.delete):
        response = method(f"{path}/versions/1", headers=creator.headers, json={"flow_definition": message_flow("New")})
        refused(response, 409)
        assert "immutable" in response.json["error"]["message"] and "new draft" in response.json["error"]["message"]
    refused(client.put(f"{path}/versions/9", headers=creator.headers, json={}), 404)

    bad = message_flow("Changed words", delay_hours=-1)
    details = refused(client.put(path, headers=creator.headers, json={"name": "Renamed", "flow_definition": bad}))
    assert details[0]["node_id"] == "msg"
    kept = get(client, creator, f"/programs/{program['id']}")
    assert (kept["name"], kept["has_unpublished_changes"]) == ("Couch to 5k", False)
    assert kept["flow_definition"] == message_flow("First words")
    assert get(client, creator, f"/programs/{program['id']}/versions/1")["flow_definition"] == message_flow(
        "First words"
    )


def test_publishing_a_draft_saved_with_problems_is_refused_per_node(app, client, creator):
    program = create_program(client, creator, flow_definition=message_flow())
    with app.app_context():  # the builder saves work in progress unvalidated
        draft = services.get_program(uuid.UUID(creator.creator_id), uuid.UUID(program["id"]))
        services.update_program(draft, {"flow_definition": message_flow("", delay_hours=-1)}, validate=False)
    details = refused(post(client, creator, f"/programs/{program['id']}/publish"))
    assert {(d["node_id"], d["field"]) for d in details} == {
        ("msg", "flow_definition.nodes.1.data.message"),
        ("msg", "flow_definition.nodes.1.data.delay_hours"),
    }
    assert get(client, creator, f"/programs/{program['id']}/versions")["versions"] == []
    assert get(client, creator, f"/programs/{program['id']}")["validation"]["valid"] is False


# --- Enrollment --------------------------------------------------------------------------


def test_an_opted_out_sms_user_is_not_enrolled(app, client, creator, make_twilio_channel):  # noqa: F811
    channel, _ = make_twilio_channel(creator, "sms")
    assert post(client, creator, f"/channels/{channel['id']}/verify").json["status"] == "active"
    program = create_program(client, creator, flow_definition=message_flow())
    post(client, creator, f"/programs/{program['id']}/publish")
    stopped = post(client, creator, "/users", json={"phone_e164": "+15557654321", "consent_state": "STOP"}).json
    details = refused(enroll(client, creator, stopped["id"], program["id"]))
    assert details[0]["field"] == "user_id" and "opted in" in details[0]["message"]
    opted_in = post(client, creator, "/users", json={"phone_e164": "+15557654322", "consent_state": "OPT_IN"}).json
    assert enroll(client, creator, opted_in["id"], program["id"]).json["channel"] == "sms"
    with app.app_context():
        users = db.session.execute(select(Enrollment.end_user_id, func.count()).group_by(Enrollment.end_user_id)).all()
        assert [(str(user), count) for user, count in users] == [(opted_in["id"], 1)]


def test_enrolling_twice_or_in_a_draft_or_on_a_bad_channel_is_refused(client, creator, web_user, published_program):
    program_id, _ = published_program(creator)
    user_id = web_user(creator)
    assert enroll(client, creator, user_id, program_id).status_code == 201
    again = enroll(client, creator, user_id, program_id)
    refused(again, 409)
    assert "already enrolled" in again.json["error"]["message"]
    assert refused(enroll(client, creator, user_id, program_id, channel="fax"))[0]["field"] == "channel"
    assert refused(enroll(client, creator, user_id, program_id, channel="sms"))[0]["field"] == "channel"  # no phone
    draft = create_program(client, creator, name="Not yet", flow_definition=two_step_flow("x"))
    details = refused(enroll(client, creator, user_id, draft["id"]))
    assert details[0]["field"] == "program_id" and "not published" in details[0]["message"]
    assert get(client, creator, f"/programs/{program_id}/enrollments")["pagination"]["total"] == 1


# --- Tenancy and roles --------------------------------------------------------------------


def test_another_creators_programs_users_badges_and_versions_are_404(client, two_creators, web_user, published_program):
    alice, bob = two_creators
    program_id, badge_id = published_program(alice)
    user_id = web_user(alice)
    bob_user = web_user(bob)
    bob_program, _ = published_program(bob)
    program = f"/api/v1/programs/{program_id}"
    for method, path in [
        ("get", program),
        ("put", program),
        ("delete", program),
        ("post", f"{program}/publish"),
        ("post", f"{program}/archive"),
        ("post", f"{program}/restore"),
        ("get", f"{program}/versions"),
        ("get", f"{program}/versions/1"),
        ("put", f"{program}/versions/1"),
        ("get", f"{program}/enrollments"),
        ("get", f"{program}/analytics"),
        ("post", f"/api/v1/users/{user_id}/programs/{bob_program}/enroll"),  # Alice's user
        ("post", f"/api/v1/users/{bob_user}/programs/{program_id}/enroll"),  # Alice's program
        ("post", f"/api/v1/users/{user_id}/programs/{program_id}/unenroll"),
        ("get", f"/api/v1/users/{user_id}/badges"),
        ("delete", f"/api/v1/badges/{badge_id}"),
    ]:
        response = getattr(client, method)(path, headers=bob.headers, json={} if method != "get" else None)
        assert response.status_code == 404, (method, path, response.json)
        assert response.json["error"]["code"] == "RESOURCE_NOT_FOUND"
    assert get(client, bob, "/badges")["pagination"]["total"] == 1  # only Bob's own
    assert [p["id"] for p in get(client, bob, "/programs")["programs"]] == [str(bob_program)]
    assert get(client, alice, f"/programs/{program_id}")["status"] == "published"  # nothing changed


def test_agents_are_refused_programs_as_on_the_dashboard(client, creator, make_member, web_user, published_program):
    program_id, badge_id = published_program(creator)
    agent = make_member(creator, "agent")
    user_id = web_user(creator)
    program = f"/api/v1/programs/{program_id}"
    for method, path in [
        ("post", "/api/v1/programs"),
        ("put", program),
        ("delete", program),
        ("post", f"{program}/publish"),
        ("post", f"{program}/archive"),
        ("post", f"/api/v1/users/{user_id}/programs/{program_id}/enroll"),
        ("post", "/api/v1/badges"),
        ("delete", f"/api/v1/badges/{badge_id}"),
    ]:
        response = getattr(client, method)(path, headers=agent.headers, json={"name": "Agent's"})
        assert response.status_code == 403, (method, path)
        assert response.json["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    for path in ("/programs", f"/programs/{program_id}", f"/programs/{program_id}/enrollments", "/badges"):
        assert client.get(f"/api/v1{path}", headers=agent.headers).status_code == 403, path
    assert get(client, creator, f"/programs/{program_id}")["name"] == "Couch to 5k"
