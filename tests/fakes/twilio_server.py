"""A fake Twilio REST API: real HTTP on 127.0.0.1, enough of it for the `twilio` client.

    with FakeTwilio() as twilio:
        app.config["TWILIO_API_BASE"] = twilio.url   # replaces https://api.twilio.com
        twilio.add_account(ACCOUNT_SID, AUTH_TOKEN, ["+15551234567"])  # the numbers the account owns
        twilio.add_number(ACCOUNT_SID, "+15557654321")
        twilio.fail_next(429)                       # the next POST Messages gets a 429
        twilio.fail_next(400, code=21610)           # ... Twilio's "recipient unsubscribed"
        twilio.sent                                 # the messages it accepted
        twilio.requests                             # everything the app sent

Endpoints, shaped like Twilio's 2010-04-01 API (basic auth: account SID + auth token):
- GET  /2010-04-01/Accounts/{sid}.json
- POST /2010-04-01/Accounts/{sid}/Messages.json  (To, From | MessagingServiceSid, Body, StatusCallback)
- GET  /2010-04-01/Accounts/{sid}/Messages.json  (filters To, From; PageSize)
- GET  /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json  (filter PhoneNumber: digits, `*` any one)
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})(\.json|/Messages\.json|/IncomingPhoneNumbers\.json)$")


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict
    query: dict
    auth: tuple[str, str] | None


@dataclass
class Fault:
    status: int
    code: int | None = None
    message: str = "fake failure"


@dataclass
class FakeTwilio:
    accounts: dict = field(default_factory=dict)  # sid -> token
    numbers: dict = field(default_factory=dict)  # sid -> the E.164 numbers the account owns
    messages: list = field(default_factory=list)  # what it accepted, newest last
    requests: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    delay: float = 0.0  # seconds before answering a POST (benchmarks, crash tests)
    initial_status: str = "queued"

    def __post_init__(self):
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-twilio")
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def add_account(self, sid: str, token: str, numbers=()) -> None:
        self.accounts[sid] = token
        for number in numbers:
            self.add_number(sid, number)

    def add_number(self, sid: str, number: str) -> None:
        """The account owns `number` (as if bought in Twilio's console)."""
        self.numbers.setdefault(sid, [])
        if number not in self.numbers[sid]:
            self.numbers[sid].append(number)

    def fail_next(self, status: int, code: int | None = None, message: str = "fake failure", times: int = 1):
        with self.lock:
            self.faults.extend(Fault(status, code, message) for _ in range(times))

    @property
    def sent(self) -> list[dict]:
        return list(self.messages)

    def record_message(self, account: str, to: str, from_: str, body: str) -> dict:
        """Pretend a message was accepted earlier (reconciliation tests)."""
        return self._store(account, {"To": to, "From": from_, "Body": body})

    def _store(self, account: str, form: dict) -> dict:
        now = datetime.now(UTC)
        message = {
            "sid": "SM" + uuid.uuid4().hex,
            "account_sid": account,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": self.initial_status,
            "status_callback": form.get("StatusCallback"),
            "date_created": format_datetime(now),
            "date_updated": format_datetime(now),
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "num_segments": "1",
            "price": None,
            "uri": f"/2010-04-01/Accounts/{account}/Messages/x.json",
        }
        message["uri"] = f"/2010-04-01/Accounts/{account}/Messages/{message['sid']}.json"
        with self.lock:
            self.messages.append(message)
        return message


def _handler(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _auth(self):
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user, password

        def _send(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: int | None, message: str):
            self._send(status, {"code": code, "message": message, "more_info": "", "status": status})

        def _handle(self, method: str):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            auth = self._auth()
            fake.requests.append(RecordedRequest(method, parts.path, form, query, auth))
            match = ACCOUNT.match(parts.path)
            if not match:
                return self._error(404, 20404, "The requested resource was not found")
            sid, what = match.groups()
            if auth is None or auth[0] != sid or fake.accounts.get(sid) != auth[1]:
                return self._error(401, 20003, "Authenticate")
            if what == ".json" and method == "GET":
                return self._send(
                    200, {"sid": sid, "friendly_name": "Fake account", "status": "active", "type": "Full"}
                )
            if what == "/IncomingPhoneNumbers.json" and method == "GET":
                return self._numbers(sid, query)
            if method == "POST":
                return self._create(sid, form)
            return self._list(sid, query)

        def _create(self, sid: str, form: dict):
            if fake.delay:
                threading.Event().wait(fake.delay)
            with fake.lock:
                fault = fake.faults.pop(0) if fake.faults else None
            if fault is not None:
                return self._error(fault.status, fault.code, fault.message)
            if not form.get("To") or not form.get("Body") or not (form.get("From") or form.get("MessagingServiceSid")):
                return self._error(400, 21604, "A 'To', 'Body' and 'From' are required")
            self._send(201, fake._store(sid, form))

        def _list(self, sid: str, query: dict):
            rows = [
                m
                for m in reversed(fake.messages)
                if m["account_sid"] == sid
                and (not query.get("To") or m["to"] == query["To"])
                and (not query.get("From") or m["from"] == query["From"])
            ]
            self._send_page("messages", rows, query)

        def _send_page(self, key: str, rows: list, query: dict):
            """One page of a Twilio list resource, in Twilio's page envelope."""
            size = int(query.get("PageSize") or 50)
            page = {"first_page_uri": self.path, "next_page_uri": None, "previous_page_uri": None, "uri": self.path}
            page |= {"page": 0, "page_size": size, "start": 0, "end": min(size, len(rows))}
            self._send(200, {key: rows[:size], **page})

        def _numbers(self, sid: str, query: dict):
            # Like Twilio, PhoneNumber matches partial numbers (`*` is any digit): "+1555" finds several,
            # so the caller has to compare the numbers it gets back.
            pattern = re.escape(query.get("PhoneNumber", "")).replace(r"\*", r"\d")
            found = [n for n in fake.numbers.get(sid, []) if re.search(pattern, n)]
            rows = [
                {
                    "sid": "PN" + uuid.uuid5(uuid.NAMESPACE_URL, sid + n).hex,
                    "account_sid": sid,
                    "phone_number": n,
                    "friendly_name": n,
                    "capabilities": {"sms": True, "mms": True, "voice": True},
                    "status": "in-use",
                    "uri": f"/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers/x.json",
                }
                for n in found
            ]
            self._send_page("incoming_phone_numbers", rows, query)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

    return Handler
