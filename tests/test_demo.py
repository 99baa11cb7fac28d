"""`flask seed-demo` (run by `make run`): a demo creator with a working course, widget, FAQ and program."""

import uuid

from app.cli import DEMO_EMAIL, DEMO_PASSWORD
from app.extensions import db
from app.programs import services as programs


def test_seed_demo_gives_a_working_workspace_once(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and "with a course, a chat widget, an FAQ entry and a program" in first.output
    assert runner.invoke(args=["seed-demo"]).exit_code == 0  # idempotent
    login = client.post("/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}).json
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    bases = client.get("/api/v1/knowledge-bases", headers=headers).json["knowledge_bases"]
    assert [kb["name"] for kb in bases] == ["Couch to 10k"]
    channels = client.get("/api/v1/channels", headers=headers).json["channels"]
    assert [c["channel_type"] for c in channels] == ["web"]
    chat = {"user_id": "visitor", "session_id": "s1", "message": "How many rest days should I take?"}
    reply = client.post("/api/v1/chat/messages", headers=headers, json=chat).json["response"]
    assert "two full rest days" in reply["text"] and reply["sources"][0]["document_title"] == "Course handbook"
    chat.update(session_id="s2", message="Can I get my money back?")
    assert client.post("/api/v1/chat/messages", headers=headers, json=chat).json["response"]["answer_mode"] == "faq"
    # The first-week program is published, valid, and offered in the widget.
    creator_id = uuid.UUID(client.get("/api/v1/auth/me", headers=headers).json["creator"]["id"])
    with app.app_context():
        [program] = db.session.scalars(programs.programs_query(creator_id)).all()
        assert program.status == "published" and program.version == 1 and program.settings["widget_enroll"]
        assert programs.check_flow(program.creator_id, program.flow_definition).valid
