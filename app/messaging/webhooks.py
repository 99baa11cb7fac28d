"""Twilio's callbacks: POST /webhooks/inbound and POST /webhooks/status."""

from app.messaging import webhooks_bp  # noqa: F401
