"""The programs API: create, list, update, publish versions, archive and restore; enrollment
through the API runs the version it started on; badges; program data on users."""

import copy
import uuid

from sqlalchemy import select

from app.extensions import db
from app.models import Conversation, Enrollment
from app.programs import engine
from tests.programs.conftest import coaching_flow


def two_step_flow(follow_up: str) -> dict:
    """start -> a free-text question -> `follow_up` -> end: the enrollment waits on the question."""
    return {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "ask", "type": "ask_question", "position": {"x": 0, "y": 100}, "data": {"question": "Ready?"}},
            {"id": "follow", "type": "send_message", "position": {"x": 0, "y": 200}, "data": {"message": follow_up}},
            {"id": "end", "type": "end", "position": {"x": 0, "y": 300}, "data": {}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "ask"},
            {"id": "e2", "source": "ask", "target": "follow"},
            {"id": "e3", "source": "follow", "target": "end"},
        ],
    }


def create_program(client, account, **body) -> dict:
    response = client.post("/api/v1/programs", headers=account.headers, json={"name": "Couch to 5k", **body})
    assert response.status_code == 201, response.json
    return response.json


def post(client, account, path, **kwargs):
    return client.post(f"/api/v1{path}", headers=account.headers, **kwargs)


def get(client, account, path, **kwargs):
    response = client.get(f"/api/v1{path}", headers=account.headers, **kwargs)
    assert response.status_code == 200, response.json
    return response.json


def enroll(client, account, user_id, program_id, **body):
    return post(client, account, f"/users/{user_id}/programs/{program_id}/enroll", json=body or None)


def answer(app, user_id, program_id, text: str) -> None:
    """The user answers the question their enrollment waits on, in its conversation."""
    with app.app_context():
        enrollment = db.session.scalar(
            select(Enrollment).where(
                Enrollment.end_user_id == uuid.UUID(str(user_id)), Enrollment.program_id == uuid.UUID(str(program_id))
            )
        )
        result = engine.take_answer(db.session.get(Conversation, enrollment.conversation_id), text)
        assert result is not None, "no question was waiting"
        engine.after_commit(result)


def part(actual: dict, *keys) -> dict:
    """The named fields of a response, to compare with what they should be."""
    return {key: actual.get(key) for key in keys}


def said(client, account, user_id) -> list[str]:
    """What the program said to the user, oldest first."""
    interactions = get(client, account, f"/users/{user_id}")["recent_interactions"]
    return [i["text"] for i in reversed(interactions) if i["sender"] == "ai"]


def test_program_lifecycle_create_list_update_publish_versions_archive_restore(
    app, client, creator, web_user, run_jobs
):
    created = create_program(client, creator, description="Three runs a week", flow_definition=two_step_flow("One"))
    assert part(created, "status", "version", "enrollment_count") == {
        "status": "draft",
        "version": 1,
        "enrollment_count": 0,
    }
    assert created["validation"] == {"valid": True, "errors": [], "warnings": []}
    assert created["settings"]["auto_enroll"] is False and created["created_at"].endswith("Z")
    program_id = created["id"]
    sleep = create_program(client, creator, name="Sleep reset", description="Better nights")

    listed = get(client, creator, "/programs")
    assert listed["pagination"] == {"page": 1, "limit": 20, "total": 2, "pages": 1}
    assert {(p["name"], p["enrollment_count"], p["completion_rate"]) for p in listed["programs"]} == {
        ("Couch to 5k", 0, 0.0),
        ("Sleep reset", 0, 0.0),
    }
    assert [p["name"] for p in get(client, creator, "/programs?search=NIGHTS")["programs"]] == ["Sleep reset"]
    assert get(client, creator, "/programs?limit=1&page=2")["pagination"]["pages"] == 2

    renamed = client.put(
        f"/api/v1/programs/{program_id}", headers=creator.headers, json={"name": "Couch to 10k", "description": None}
    )
    assert renamed.status_code == 200 and renamed.json["name"] == "Couch to 10k"
    assert renamed.json["description"] is None and renamed.json["flow_definition"] == two_step_flow("One")

    published = post(client, creator, f"/programs/{program_id}/publish")
    assert published.status_code == 200
    assert part(published.json, "id", "status", "version") == {"id": program_id, "status": "published", "version": 1}
    assert published.json["published_at"].endswith("Z")
    assert [p["name"] for p in get(client, creator, "/programs?status=published")["programs"]] == ["Couch to 10k"]
    on_v1 = web_user(creator, "Vera One")
    assert enroll(client, creator, on_v1, program_id).status_code == 201
    run_jobs()

    edited = client.put(
        f"/api/v1/programs/{program_id}", headers=creator.headers, json={"flow_definition": two_step_flow("Two")}
    )
    assert edited.status_code == 200
    assert part(edited.json, "status", "version", "has_unpublished_changes") == {
        "status": "published",
        "version": 1,
        "has_unpublished_changes": True,
    }
    assert get(client, creator, f"/programs/{program_id}/versions/1")["flow_definition"] == two_step_flow("One")
    assert post(client, creator, f"/programs/{program_id}/publish").json["version"] == 2
    versions = get(client, creator, f"/programs/{program_id}/versions")["versions"]
    assert [v["number"] for v in versions] == [2, 1] and versions[0]["published_by"] == creator.member_id
    assert get(client, creator, f"/programs/{program_id}/versions/2")["flow_definition"] == two_step_flow("Two")
    assert get(client, creator, f"/programs/{program_id}")["has_unpublished_changes"] is False

    on_v2 = web_user(creator, "Walt Two")
    assert enroll(client, creator, on_v2, program_id).status_code == 201
    run_jobs()
    for user in (on_v1, on_v2):
        answer(app, user, program_id, "Yes, let's go")
    run_jobs()
    assert said(client, creator, on_v1) == ["Ready?", "One"]  # started on v1: finishes v1
    assert said(client, creator, on_v2) == ["Ready?", "Two"]

    enrollments = get(client, creator, f"/programs/{program_id}/enrollments?status=completed")
    assert enrollments["pagination"]["total"] == 2
    by_user = {e["user_label"]: e for e in enrollments["enrollments"]}
    assert {label: e["version"] for label, e in by_user.items()} == {"Vera One": 1, "Walt Two": 2}
    expected = {
        "user_id": str(on_v1),
        "status": "completed",
        "progress": 1.0,
        "answers": {"ask": "Yes, let's go"},
        "enrolled_via": "api",
        "channel": "web",
        "current_node_id": "end",
        "exit_reason": None,
    }
    assert part(by_user["Vera One"], *expected) == expected
    assert by_user["Vera One"]["completed_at"].endswith("Z")
    assert get(client, creator, f"/programs/{program_id}/enrollments?status=active")["enrollments"] == []

    detail = get(client, creator, f"/programs/{program_id}")
    assert (detail["enrollment_count"], detail["completion_rate"]) == (2, 1.0)
    assert part(detail["analytics"], "total_enrollments", "completed_enrollments", "active_enrollments") == {
        "total_enrollments": 2,
        "completed_enrollments": 2,
        "active_enrollments": 0,
    }
    assert detail["analytics"]["engagement_score"] == 1.0
    assert [(d["node_id"], d["reached"], d["current"]) for d in detail["drop_off"]] == [
        ("start", 2, 0),
        ("ask", 2, 0),
        ("follow", 2, 0),
        ("end", 2, 0),
    ]
    assert get(client, creator, f"/programs/{program_id}/analytics")["analytics"] == detail["analytics"]

    archived = post(client, creator, f"/programs/{program_id}/archive")
    assert archived.status_code == 200 and archived.json["status"] == "archived" and archived.json["archived_at"]
    late = web_user(creator, "Late Lou")
    refused = enroll(client, creator, late, program_id)
    assert refused.status_code == 422 and "archived" in refused.json["error"]["message"]
    assert client.put(f"/api/v1/programs/{program_id}", headers=creator.headers, json={"name": "X"}).status_code == 409
    assert [p["name"] for p in get(client, creator, "/programs?status=archived")["programs"]] == ["Couch to 10k"]
    restored = post(client, creator, f"/programs/{program_id}/restore")
    assert part(restored.json, "status", "version", "archived_at") == {
        "status": "published",
        "version": 2,
        "archived_at": None,
    }
    assert enroll(client, creator, late, program_id).status_code == 201

    assert client.delete(f"/api/v1/programs/{program_id}", headers=creator.headers).status_code == 409
    assert client.delete(f"/api/v1/programs/{sleep['id']}", headers=creator.headers).status_code == 204
    assert client.get(f"/api/v1/programs/{sleep['id']}", headers=creator.headers).status_code == 404


# creator-hub-api "Create Program", verbatim: its message has no edge out, so it is the last step.
SOURCE_EXAMPLE = {
    "name": "string",
    "description": "string",
    "flow_definition": {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {
                "id": "message_1",
                "type": "send_message",
                "position": {"x": 200, "y": 0},
                "data": {"message": "Welcome to the program!", "delay_hours": 0},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "message_1"}],
    },
    "settings": {"auto_enroll": False, "completion_badge": "uuid"},
}


def test_the_sources_example_program_is_created_and_a_user_completes_it(client, creator, run_jobs):
    # "uuid" stands for a badge's id: a creator's own badge is given at completion, anything else is refused.
    placeholder = post(client, creator, "/programs", json=SOURCE_EXAMPLE)
    assert placeholder.status_code == 422, placeholder.json
    assert [d["field"] for d in placeholder.json["error"]["details"]] == ["settings.completion_badge"]
    badge = post(client, creator, "/badges", json={"name": "Welcomed"}).json
    body = copy.deepcopy(SOURCE_EXAMPLE)
    body["settings"]["completion_badge"] = badge["id"]

    created = post(client, creator, "/programs", json=body)
    assert created.status_code == 201, created.json
    assert part(created.json, "name", "description", "flow_definition", "status", "version", "enrollment_count") == {
        "name": "string",
        "description": "string",
        "flow_definition": body["flow_definition"],
        "status": "draft",
        "version": 1,
        "enrollment_count": 0,
    }
    assert created.json["validation"] == {"valid": True, "errors": [], "warnings": []}
    published = post(client, creator, f"/programs/{created.json['id']}/publish")
    assert published.status_code == 200 and published.json["version"] == 1

    user = post(client, creator, "/users", json={"external_id": "crm-1", "display_name": "Kim Api"}).json
    assert enroll(client, creator, user["id"], created.json["id"], channel="api").status_code == 201
    run_jobs()
    assert said(client, creator, user["id"]) == ["Welcome to the program!"]
    detail = get(client, creator, f"/users/{user['id']}")
    assert [(e["status"], e["progress"], e["current_node_id"]) for e in detail["program_enrollments"]] == [
        ("completed", 1.0, "message_1")
    ]
    assert [b["badge_name"] for b in detail["badges_earned"]] == ["Welcomed"]
    assert get(client, creator, f"/programs/{created.json['id']}")["analytics"]["completed_enrollments"] == 1


def test_answering_a_question_with_no_way_out_completes_the_program(client, creator, run_jobs):
    last_question = {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "ask", "type": "ask_question", "data": {"question": "How was week one?", "save_as": "week_1"}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "ask"}],
    }
    program = create_program(client, creator, flow_definition=last_question)
    post(client, creator, f"/programs/{program['id']}/publish")
    user = post(client, creator, "/users", json={"external_id": "crm-2"}).json
    session_id = enroll(client, creator, user["id"], program["id"], channel="api").json["session_id"]
    run_jobs()
    reply = post(
        client, creator, "/chat/messages", json={"user_id": "crm-2", "session_id": session_id, "message": "Good"}
    )
    assert reply.status_code == 200, reply.json
    assert part(reply.json["program"], "status", "waiting_for", "messages") == {
        "status": "completed",
        "waiting_for": "none",
        "messages": [],
    }
    assert get(client, creator, f"/users/{user['id']}")["profile_data"]["week_1"] == "Good"


def test_the_coaching_flow_runs_through_the_api_and_shows_on_the_user(app, client, creator, web_user, run_jobs):
    badge = post(client, creator, "/badges", json={"name": "First run", "icon": "🏃"})
    assert badge.status_code == 201
    program = create_program(client, creator, flow_definition=coaching_flow(badge.json["id"]))
    post(client, creator, f"/programs/{program['id']}/publish")
    user_id = web_user(creator, "Dana Runner")

    enrolled = enroll(client, creator, user_id, program["id"], channel="web")
    assert enrolled.status_code == 201
    assert part(enrolled.json, "program_id", "user_id", "status") == {
        "program_id": program["id"],
        "user_id": str(user_id),
        "status": "active",
    }
    assert enrolled.json["channel"] == "web" and enrolled.json["enrolled_at"].endswith("Z")
    run_jobs()
    assert said(client, creator, user_id) == ["Welcome Dana to Couch to 5k!", "Ready to run today?"]
    row = next(u for u in get(client, creator, "/users")["users"] if u["id"] == str(user_id))
    assert row["program_enrollments"] == 1
    waiting = get(client, creator, f"/users/{user_id}")["program_enrollments"]
    assert [(e["program_name"], e["status"], e["current_node_id"]) for e in waiting] == [
        ("Couch to 5k", "active", "ready")
    ]
    assert 0 < waiting[0]["progress"] < 1

    answer(app, user_id, program["id"], "yes")
    run_jobs()
    user = get(client, creator, f"/users/{user_id}")
    assert said(client, creator, user_id)[2:] == ["You earned First run!", "Well done, Dana."]
    assert [(e["status"], e["progress"]) for e in user["program_enrollments"]] == [("completed", 1.0)]
    assert user["program_enrollments"][0]["completed_at"].endswith("Z")
    assert [(b["badge_id"], b["badge_name"], b["program_id"]) for b in user["badges_earned"]] == [
        (badge.json["id"], "First run", program["id"])
    ]
    assert get(client, creator, f"/users/{user_id}/badges")["badges"] == user["badges_earned"]
    assert get(client, creator, f"/programs/{program['id']}/enrollments")["enrollments"][0]["answers"] == {
        "ready": "Yes"
    }
    analytics = get(client, creator, f"/programs/{program['id']}")["analytics"]
    assert part(analytics, "total_enrollments", "completed_enrollments", "completion_rate") == {
        "total_enrollments": 1,
        "completed_enrollments": 1,
        "completion_rate": 1.0,
    }


def test_unenroll_stops_the_enrollment_and_allows_a_new_one(client, creator, web_user, run_jobs, published_program):
    program_id, _ = published_program(creator)
    user_id = web_user(creator)
    assert enroll(client, creator, user_id, program_id).status_code == 201
    run_jobs()
    stopped = post(client, creator, f"/users/{user_id}/programs/{program_id}/unenroll")
    assert stopped.status_code == 200
    assert part(stopped.json, "status", "exit_reason") == {
        "status": "exited",
        "exit_reason": "unenrolled by the creator",
    }
    again = post(client, creator, f"/users/{user_id}/programs/{program_id}/unenroll")
    assert again.status_code == 404 and "not enrolled" in again.json["error"]["message"]
    assert enroll(client, creator, user_id, program_id).status_code == 201
    statuses = [e["status"] for e in get(client, creator, f"/programs/{program_id}/enrollments")["enrollments"]]
    assert sorted(statuses) == ["active", "exited"]


def test_badges_are_listed_named_once_and_kept_while_a_program_awards_them(client, creator):
    made = [post(client, creator, "/badges", json={"name": name}).json for name in ("Streak", "Early bird")]
    assert made[0]["icon"] == "🏅" and made[0]["created_at"].endswith("Z")
    listed = get(client, creator, "/badges")
    assert [b["name"] for b in listed["badges"]] == ["Early bird", "Streak"] and listed["pagination"]["total"] == 2
    assert get(client, creator, "/badges?limit=1&page=2")["badges"][0]["name"] == "Streak"
    duplicate = post(client, creator, "/badges", json={"name": "Streak"})
    assert duplicate.status_code == 409 and duplicate.json["error"]["code"] == "CONFLICT"
    assert post(client, creator, "/badges", json={"name": "  "}).status_code == 422

    create_program(client, creator, flow_definition=coaching_flow(made[0]["id"]))
    in_use = client.delete(f"/api/v1/badges/{made[0]['id']}", headers=creator.headers)
    assert in_use.status_code == 409 and "Couch to 5k" in in_use.json["error"]["message"]
    assert client.delete(f"/api/v1/badges/{made[1]['id']}", headers=creator.headers).status_code == 204
    assert [b["name"] for b in get(client, creator, "/badges")["badges"]] == ["Streak"]


def test_the_openapi_document_describes_programs(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/programs",
        "/api/v1/programs/{program_id}",
        "/api/v1/programs/{program_id}/publish",
        "/api/v1/programs/{program_id}/versions/{number}",
        "/api/v1/users/{user_id}/programs/{program_id}/enroll",
        "/api/v1/badges",
    ):
        assert path in spec["paths"], path
    create = spec["paths"]["/api/v1/programs"]["post"]
    assert {"201", "422"} <= set(create["responses"])
    program = spec["components"]["schemas"]["Program"]["properties"]
    assert {"flow_definition", "validation", "enrollment_count"} <= set(program)
    assert "409" in spec["paths"]["/api/v1/programs/{program_id}/versions/{number}"]["put"]["responses"]


def test_an_api_user_answers_the_program_through_the_chat_api(client, creator, run_jobs):
    badge = post(client, creator, "/badges", json={"name": "Ready"}).json
    program = create_program(client, creator, flow_definition=coaching_flow(badge["id"]))
    post(client, creator, f"/programs/{program['id']}/publish")
    user = post(client, creator, "/users", json={"external_id": "crm-7", "display_name": "Kim Api"}).json
    enrolled = enroll(client, creator, user["id"], program["id"], channel="api")
    assert enrolled.status_code == 201 and enrolled.json["channel"] == "api"
    run_jobs()
    assert said(client, creator, user["id"]) == ["Welcome Kim to Couch to 5k!", "Ready to run today?"]

    body = {"user_id": "crm-7", "session_id": enrolled.json["session_id"], "message": "1"}  # the first choice
    reply = post(client, creator, "/chat/messages", json=body)
    assert reply.status_code == 200, reply.json
    assert part(reply.json["program"], "program_id", "status") == {"program_id": program["id"], "status": "completed"}
    assert [m["text"] for m in reply.json["program"]["messages"]] == ["You earned Ready!", "Well done, Kim."]
    assert [b["badge_name"] for b in get(client, creator, f"/users/{user['id']}")["badges_earned"]] == ["Ready"]
    assert get(client, creator, f"/programs/{program['id']}/analytics")["analytics"]["completed_enrollments"] == 1
    # The users list counts programs the user is in now: a completed one is not.
    row = next(u for u in get(client, creator, "/users")["users"] if u["id"] == user["id"])
    assert row["program_enrollments"] == 0


def test_a_user_created_through_the_api_joins_auto_enroll_programs(client, creator, run_jobs):
    badge = post(client, creator, "/badges", json={"name": "Ready"}).json
    program = create_program(
        client, creator, flow_definition=coaching_flow(badge["id"]), settings={"auto_enroll": True}
    )
    post(client, creator, f"/programs/{program['id']}/publish")

    api_user = post(client, creator, "/users", json={"external_id": "crm-9", "display_name": "Ana Api"}).json
    texter = post(client, creator, "/users", json={"phone_e164": "+14155550199"}).json  # pending: not yet
    run_jobs()
    assert [e["program_id"] for e in get(client, creator, f"/users/{api_user['id']}")["program_enrollments"]] == [
        program["id"]
    ]
    assert said(client, creator, api_user["id"]) == ["Welcome Ana to Couch to 5k!", "Ready to run today?"]
    assert get(client, creator, f"/users/{texter['id']}")["program_enrollments"] == []
