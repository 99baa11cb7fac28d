"""The real `twilio` client for a channel, pointed at TWILIO_API_BASE when it is set.

TWILIO_API_BASE (app config) replaces https://api.twilio.com in every request:
tests and benchmarks point it at tests/fakes/twilio_server.py; production
leaves it unset.
"""

import logging

import requests
from flask import current_app
from twilio.base.exceptions import TwilioRestException
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


def explain(error: Exception) -> str:
    """A sentence a creator can act on for an error of the twilio client, never a raw
    `HTTPSConnectionPool(...)`: Twilio's own code when Twilio answered, else what to check."""
    if isinstance(error, TwilioRestException):
        code = error.code or f"HTTP {error.status}"
        if error.status in (401, 403) or error.code == 20003:
            return f"Twilio refused these credentials ({code})."
        if error.status == 404:
            return f"Twilio has no such account or resource ({code})."
        if error.status == 429 or error.status >= 500:
            return f"Twilio is busy or failing right now: try again in a minute ({code})."
        return f"Twilio refused the request: {(error.msg or '').strip()[:200]} ({code})."
    if isinstance(error, requests.Timeout):
        return "Twilio did not answer in time: try again."
    if isinstance(error, requests.ConnectionError):
        return "Could not reach Twilio: check the network."
    return "Could not talk to Twilio: try again."
