"""Messaging pages: the outbox with each message's fate, and inbound activity."""

from app.messaging import bp  # noqa: F401
