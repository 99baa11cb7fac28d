"""The real `twilio` client for a channel, pointed at TWILIO_API_BASE when it is set.

TWILIO_API_BASE (app config) replaces https://api.twilio.com in every request:
tests and benchmarks point it at tests/fakes/twilio_server.py; production
leaves it unset.
"""

import logging

from flask import current_app
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

# twilio logs every request and its headers at INFO: keep that out of our logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

TWILIO_HOST = "https://api.twilio.com"
TIMEOUT_SECONDS = 20  # a send stuck longer than this is reconciled later, never resent blindly


class RebasedHttpClient(TwilioHttpClient):
    """TwilioHttpClient sending api.twilio.com requests to another base URL."""

    def __init__(self, base_url: str | None, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/") if base_url else None

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_HOST):
            url = self.base_url + url[len(TWILIO_HOST) :]
        return super().request(method, url, *args, **kwargs)


def make_client(account_sid: str, auth_token: str) -> Client:
    http = RebasedHttpClient(current_app.config["TWILIO_API_BASE"], timeout=TIMEOUT_SECONDS)
    return Client(account_sid, auth_token, http_client=http)
