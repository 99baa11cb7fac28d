"""Helpers of the inbox tests: conversations made through the chat API or on another channel,
and a listener on the visitor's widget channel."""

import time
import uuid

import pytest

from app.assistant import services as assistant
from app.extensions import db
from app.models import Conversation, EndUser
from app.realtime import Subscription


def chat(client, account, message, user="visitor-1", session="s-1") -> dict:
    """A visitor's message through POST /api/v1/chat/messages; returns its JSON."""
    response = client.post(
        "/api/v1/chat/messages",
        headers=account.headers,
        json={"user_id": user, "session_id": session, "message": message},
    )
    assert response.status_code == 200, response.json
    return response.json


@pytest.fixture
def make_conversation(app):
    """make_conversation(account, channel, external_id, text, display_name=None) -> conversation id (str).

    For channels the chat API does not create (web, sms, whatsapp): the user's message only, no AI turn.
    """

    def make(account, channel="web", external_id="visitor-9", text="Hello there", display_name=None) -> str:
        with app.app_context():
            end_user = assistant.get_or_create_end_user(uuid.UUID(account.creator_id), channel, external_id)
            end_user.display_name = display_name
            conversation = assistant.get_or_create_conversation(end_user, external_id)
            assistant.add_message(conversation, "user", text)
            db.session.commit()
            return str(conversation.id)

    return make


@pytest.fixture
def name_user(app):
    """name_user(conversation_id, display_name): give the conversation's end user a name."""

    def name(conversation_id: str, display_name: str) -> None:
        with app.app_context():
            conversation = db.session.get(Conversation, uuid.UUID(conversation_id))
            db.session.get(EndUser, conversation.end_user_id).display_name = display_name
            db.session.commit()

    return name


@pytest.fixture
def listen(app):
    """listen(conversation_id) -> a Subscription to what the visitor's widget would receive."""
    subscriptions = []

    def subscribe(conversation_id: str) -> Subscription:
        subscription = Subscription(app.extensions["redis"], conversation_id)
        subscriptions.append(subscription)
        return subscription

    yield subscribe
    for subscription in subscriptions:
        subscription.close()


def events(subscription, expect: int = 1, wait: float = 3.0) -> list[dict]:
    """What arrived on the subscription: waits until `expect` events came (or `wait` seconds passed).

    A poll can return nothing while Redis still delivers the subscribe confirmation, so it loops.
    """
    received, deadline = [], time.monotonic() + wait
    while len(received) < expect and time.monotonic() < deadline:
        received.extend(subscription.poll(timeout=0.1))
    received.extend(subscription.poll(timeout=0.05))  # anything extra, so tests see duplicates too
    return received
