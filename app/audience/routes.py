"""Audience pages: end users, their consent and timeline, imports and segments."""

from app.audience import bp  # noqa: F401
