"""Helpers of the messaging tests: a fake Twilio, Twilio channels made through the API,
and inbound webhooks signed exactly as Twilio signs them."""

import itertools
import socket
import uuid

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.models import InboundEvent, OutboundMessage
from tests.fakes.twilio_server import FakeTwilio

SIDS = itertools.count(1)


def account_sid(n: int) -> str:
    return "AC" + f"{n:032x}"


@pytest.fixture
def twilio(app):
    """The fake Twilio, with the app's client pointed at it and fast retries."""
    saved = {key: app.config[key] for key in ("TWILIO_API_BASE", "OUTBOX_RETRY_BASE_SECONDS")}
    with FakeTwilio() as fake:
        app.config.update(TWILIO_API_BASE=fake.url, OUTBOX_RETRY_BASE_SECONDS=0.01)
        yield fake
        app.config.update(saved)


@pytest.fixture
def make_twilio_channel(client, twilio):
    """make_twilio_channel(account, "sms"|"whatsapp", number) -> (channel JSON, auth token): made through
    the API and verified, so the number is claimed. With register=False the fake Twilio does not know
    the account, and the channel stays pending_verification."""

    def make(account, channel_type="sms", number="+15550001111", token=None, register=True, verify=None):
        n = next(SIDS)
        sid, token = account_sid(n), token or f"tok{n:029d}"
        if register:
            twilio.add_account(sid, token, [number])
        response = client.post(
            "/api/v1/channels",
            headers=account.headers,
            json={
                "channel_type": channel_type,
                "channel_name": f"{channel_type} line",
                "configuration": {"account_sid": sid, "phone_numbers": [number]},
                "secrets": {"auth_token": token},
            },
        )
        assert response.status_code == 201, response.json
        if verify if verify is not None else register:
            response = client.post(f"/api/v1/channels/{response.json['id']}/verify", headers=account.headers)
            assert response.json["status"] == "active", response.json
        return response.json, token

    return make


def unreachable_url() -> str:
    """A URL on a port nothing listens on: connections are refused, like Twilio unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def signed_post(client, path, params, token, url_base="http://localhost", signature=None, headers=None):
    """POST a form to `path` with X-Twilio-Signature computed by twilio's RequestValidator."""
    url = url_base + path
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})})


def inbound_params(to="+15550001111", from_="+15557654321", body="Hello", sid=None, whatsapp=False) -> dict:
    prefix = "whatsapp:" if whatsapp else ""
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "0" * 32,
        "From": prefix + from_,
        "To": prefix + to,
        "Body": body,
        "NumMedia": "0",
    }


@pytest.fixture
def rows(app):
    """rows(Model, **filters) -> the rows, read in a fresh app context."""

    def read(model, **filters):
        with app.app_context():
            query = select(model).filter_by(**filters)
            found = db.session.scalars(query).all()
            db.session.expunge_all()
            return found

    return read


@pytest.fixture
def outbox_rows(rows):
    return lambda **filters: rows(OutboundMessage, **filters)


@pytest.fixture
def inbound_rows(rows):
    return lambda **filters: rows(InboundEvent, **filters)
