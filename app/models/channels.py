"""Channels a creator's audience reaches them on. The web widget for now;
SMS and WhatsApp through Twilio join later."""

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import IdMixin, JSONType, TenantMixin, TimestampMixin

WIDGET_DEFAULTS = {
    "widget_color": "#4f46e5",
    "title": "Ask us anything",
    "welcome_message": "Hello! How can I help you today?",
    "avatar_url": None,
    "allowed_origins": [],
}


class Channel(IdMixin, TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "channels"

    channel_type: Mapped[str] = mapped_column(String(20))  # web, sms, whatsapp
    channel_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(30), default="active")
    configuration: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Credentials (a Twilio auth token), encrypted with a key derived from SECRET_KEY; never returned.
    encrypted_secrets: Mapped[str | None] = mapped_column(Text)

    @property
    def widget(self) -> dict:
        return {**WIDGET_DEFAULTS, **(self.configuration or {})}
