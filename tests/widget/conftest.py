"""Helpers of the widget tests: channels, visitor sessions, and visitors talking to the live
server over a real WebSocket (closed after each test, pass or fail)."""

import json
import time

import pytest
import simple_websocket

from tests.knowledge.test_knowledge_api import GUIDE, create_kb, upload

SITE = "https://coach.example"


def create_channel(client, account, origins=(SITE,), **config):
    body = {
        "channel_type": "web",
        "channel_name": "Website",
        "configuration": {"allowed_origins": list(origins), "title": "Ask Coach Ana", **config},
    }
    response = client.post("/api/v1/channels", headers=account.headers, json=body)
    assert response.status_code == 201, response.json
    return response.json


def session(client, channel, origin=SITE, credential=None):
    """POST /widget/<id>/session as the widget does: with the stored visitor credential, if any."""
    return client.post(
        f"/widget/{channel['id']}/session",
        headers={"Origin": origin},
        json={"visitor_credential": credential} if credential else {},
    )


class Visitor:
    """A widget on a page of `origin`, talking to the live server."""

    opened: list["Visitor"] = []  # closed after each test, pass or fail (see close_visitors)

    def __init__(self, base_url, channel, token, origin=SITE):
        url = base_url.replace("http", "ws", 1) + f"/widget/ws/{channel['id']}" + (f"?token={token}" if token else "")
        self.ws = simple_websocket.Client.connect(url, headers={"Origin": origin})
        Visitor.opened.append(self)

    def send(self, **frame):
        self.ws.send(json.dumps(frame))

    def receive(self, timeout=10.0) -> dict:
        raw = self.ws.receive(timeout=timeout)
        assert raw is not None, "no frame arrived"
        return json.loads(raw)

    def until(self, predicate, timeout=15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.receive(timeout=deadline - time.monotonic())
            if predicate(frame):
                return frame
        raise AssertionError("the expected frame never came")

    def close(self):
        try:
            self.ws.close()
        except simple_websocket.ConnectionClosed:
            pass  # the server closed it first


@pytest.fixture(autouse=True)
def close_visitors():
    """An open client socket keeps a non-daemon thread alive, and the test process with it."""
    yield
    while Visitor.opened:
        Visitor.opened.pop().close()


@pytest.fixture
def coach_channel(client, creator, run_jobs):
    kb = create_kb(client, creator)
    upload(client, creator, kb["id"], "guide.md", GUIDE.encode())
    run_jobs()
    return create_channel(client, creator)


def connect(client, live_server_url, channel, credential=None) -> tuple[Visitor, dict, str]:
    """A visitor's socket, its first frame, and the credential that resumes them on a later page load."""
    started = session(client, channel, credential=credential).json
    visitor = Visitor(live_server_url, channel, started["token"])
    return visitor, visitor.receive(), started["visitor_credential"]
