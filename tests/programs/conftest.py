"""Programs built through the services, users reached on the web widget."""

import uuid

import pytest

from app.assistant import services as assistant
from app.extensions import db
from app.programs import services

# start -> welcome -> question (choices) -> condition on the answer -> badge | wait -> end
COACHING_FLOW = {
    "nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
        {
            "id": "welcome",
            "type": "send_message",
            "position": {"x": 0, "y": 100},
            "data": {"message": "Welcome {first_name|friend} to {program_name}!", "delay_hours": 0},
        },
        {
            "id": "ready",
            "type": "ask_question",
            "position": {"x": 0, "y": 200},
            "data": {
                "question": "Ready to run today?",
                "choices": ["Yes", "Not yet"],
                "save_to": "profile",
                "save_as": "ready",
            },
        },
        {
            "id": "check",
            "type": "condition",
            "position": {"x": 0, "y": 300},
            "data": {"field": "answer.ready", "operator": "equals", "value": "Yes"},
        },
        {
            "id": "badge",
            "type": "award_badge",
            "position": {"x": -100, "y": 400},
            "data": {"badge_id": "BADGE", "message": "You earned {badge}!"},
        },
        {"id": "later", "type": "wait", "position": {"x": 100, "y": 400}, "data": {"hours": 24}},
        {
            "id": "end",
            "type": "end",
            "position": {"x": 0, "y": 500},
            "data": {"message": "Well done, {first_name|friend}."},
        },
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "welcome"},
        {"id": "e2", "source": "welcome", "target": "ready"},
        {"id": "e3", "source": "ready", "target": "check"},
        {"id": "e4", "source": "check", "target": "badge", "branch": "yes"},
        {"id": "e5", "source": "check", "target": "later", "branch": "no"},
        {"id": "e6", "source": "badge", "target": "end"},
        {"id": "e7", "source": "later", "target": "end"},
    ],
}


def coaching_flow(badge_id) -> dict:
    import copy

    flow = copy.deepcopy(COACHING_FLOW)
    flow["nodes"][4]["data"]["badge_id"] = str(badge_id)
    return flow


@pytest.fixture
def published_program(app):
    """make(account) -> (program id, badge id): the coaching flow, published as version 1."""

    def make(account, name="Couch to 5k", settings=None):
        with app.app_context():
            creator_id = uuid.UUID(account.creator_id)
            badge = services.create_badge(creator_id, f"First run {uuid.uuid4().hex[:4]}")
            program, _ = services.create_program(
                creator_id,
                {"name": name, "flow_definition": coaching_flow(badge.id), "settings": settings or {}},
            )
            services.publish(program)
            return program.id, badge.id

    return make


@pytest.fixture
def web_user(app):
    """make(account, name) -> id of a user who has used the website widget (visitor id v_<hex>)."""

    def make(account, name="Dana Runner"):
        with app.app_context():
            user = assistant.get_or_create_end_user(uuid.UUID(account.creator_id), "web", f"v_{uuid.uuid4().hex}")
            user.display_name = name
            db.session.commit()
            return user.id

    return make
