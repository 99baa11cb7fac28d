"""Pushing events to open widget sockets, from any process, through Redis pub/sub.

An agent's reply is stored by whichever web process handled the agent's
request; the visitor's WebSocket may live in another process. So nothing is
sent to a socket directly: events are published on the conversation's
channel, and the process holding the socket forwards what it receives.
On the embedded default the same code runs on the in-process fakeredis.
"""

import json
import uuid
from collections.abc import Iterator

from app.extensions import redis_connection


def conversation_channel(conversation_id: uuid.UUID | str) -> str:
    return f"creator-hub:conversation:{conversation_id}"


def publish(conversation_id: uuid.UUID | str, event: dict) -> int:
    """Send `event` (JSON-able) to every socket of the conversation; returns the listener count."""
    return redis_connection().publish(conversation_channel(conversation_id), json.dumps(event, default=str))


class Subscription:
    """The events of one conversation, for the socket that shows it."""

    def __init__(self, connection, conversation_id):
        self._pubsub = connection.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(conversation_channel(conversation_id))

    def poll(self, timeout: float = 0.0) -> Iterator[dict]:
        """Events waiting now (waiting up to `timeout` for the first one)."""
        message = self._pubsub.get_message(timeout=timeout)
        while message is not None:
            if message["type"] == "message":
                yield json.loads(message["data"])
            message = self._pubsub.get_message(timeout=0)

    def close(self) -> None:
        self._pubsub.close()
