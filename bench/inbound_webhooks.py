"""Inbound Twilio webhooks per second, through signature check and persistence, against a bare Flask POST.

    .venv/bin/python -m bench.inbound_webhooks                 # SQLite file + fakeredis in a temp dir
    DATABASE_URL=postgresql://... REDIS_URL=redis://... .venv/bin/python -m bench.inbound_webhooks

What one request does (POST /webhooks/inbound, the real app): find the channel
owning `To`, decrypt its auth token, check X-Twilio-Signature with
twilio.request_validator over the URL and the form, commit the InboundEvent
(its unique MessageSid), and ENQUEUE the answering job (RQ, `default` queue).
The answering job is NOT run: no worker runs during the bench (the embedded
worker is off), so the figure is the webhook's own cost, which is what Twilio
waits for. The jobs are counted afterwards (one per request) and dropped.

Baseline, same run, served the same way: a bare Flask app whose POST route
reads the form and returns the same empty TwiML.

Both are served by werkzeug's threaded server (one thread per request) in a
child process each, on 127.0.0.1; BENCH_CLIENTS client threads (default 8) in
this process POST pre-signed requests (each a distinct MessageSid and body)
over fresh connections. BENCH_REQUESTS (default 3000) per target, after 100 of
warm-up; the targets alternate in rounds so anything else the machine does
falls on both alike.
"""

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import urlencode

from bench.common import free_port

REQUESTS = int(os.environ.get("BENCH_REQUESTS", 3000))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 8))
ROUNDS = 3
WARMUP = 100
NUMBER = f"+1555{uuid.uuid4().int % 10_000_000:07d}"  # a fresh number each run (DATABASE_URL keeps old ones)
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "be" * 16  # 32 hex characters, like the real ones
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def serve(which: str, port: int) -> None:
    """Child process: the real app, or the bare baseline, on werkzeug's threaded server."""
    import logging

    from flask import Flask, Response, request
    from werkzeug.serving import make_server

    logging.disable(logging.WARNING)  # no per-request log lines in either
    if which == "real":
        from app import create_app

        app = create_app({"SERVER_NAME": None, "RATELIMIT_ENABLED": False})
    else:
        app = Flask("bare")

        @app.post("/webhooks/inbound")
        def bare():
            request.form.get("Body")
            return Response(TWIML, mimetype="text/xml")

    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


def setup():
    """Migrate, and one creator with a Twilio SMS channel on NUMBER (as POST /api/v1/channels makes it)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth.services import register_creator
    from app.extensions import db
    from app.messaging.channels import claim_numbers, create_twilio_channel

    app = create_app({"SERVER_NAME": None})
    with app.app_context():
        upgrade()
        member = register_creator(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password-42", "Bench", "Bench")
        with app.test_request_context():
            channel = create_twilio_channel(
                member.creator_id,
                "sms",
                "bench line",
                {"account_sid": ACCOUNT_SID, "phone_numbers": [NUMBER]},
                {"auth_token": AUTH_TOKEN},
            )
            claim_numbers(channel)  # no Twilio to verify against: the bench owns its number
        db.session.commit()
        return app, member.creator_id


def signed_requests(port: int, count: int) -> list[tuple[bytes, str]]:
    """`count` distinct inbound messages, each signed as Twilio signs them."""
    from twilio.request_validator import RequestValidator

    validator, url, out = RequestValidator(AUTH_TOKEN), f"http://127.0.0.1:{port}/webhooks/inbound", []
    for n in range(count):
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": ACCOUNT_SID,
            "From": f"+1555{n % 9_000_000 + 1_000_000:07d}",
            "To": NUMBER,
            "Body": f"How do I keep going on day {n}?",
            "NumMedia": "0",
        }
        out.append((urlencode(params).encode(), validator.compute_signature(url, params)))
    return out


def post_all(port: int, requests: list[tuple[bytes, str]]) -> tuple[float, int]:
    """POST every request from CLIENTS threads; (seconds, non-200 count)."""
    chunks = [requests[i::CLIENTS] for i in range(CLIENTS)]
    errors = []

    def client(chunk):
        for body, signature in chunk:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(
                "POST",
                "/webhooks/inbound",
                body,
                {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
            )
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                errors.append(response.status)

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, len(errors)


def wait_listening(port: int, process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


def main() -> int:
    own_instance = "INSTANCE_PATH" not in os.environ and not os.environ.get("DATABASE_URL")
    if own_instance:
        os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-inbound-")
    os.environ.setdefault("APP_ENV", "development")
    os.environ["EMBEDDED_WORKER"] = "0"  # the answering jobs are enqueued, never run during the bench
    servers = []
    try:
        return run(servers)
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=10)
        if own_instance:
            shutil.rmtree(os.environ["INSTANCE_PATH"], ignore_errors=True)


def run(servers: list) -> int:
    from sqlalchemy import delete, func, select

    from app.extensions import db
    from app.models import InboundEvent

    app, creator_id = setup()
    ports = {"real": free_port(), "bare": free_port()}
    for which, port in ports.items():
        servers.append(subprocess.Popen([sys.executable, "-m", "bench.inbound_webhooks", "--serve", which, str(port)]))
        wait_listening(port, servers[-1])
    per_round = REQUESTS // ROUNDS
    batches = {
        which: [signed_requests(port, WARMUP)] + [signed_requests(port, per_round) for _ in range(ROUNDS)]
        for which, port in ports.items()
    }
    totals = {which: [0.0, 0, 0] for which in ports}  # seconds, requests, errors
    for which in ports:
        post_all(ports[which], batches[which][0])  # warm-up: connections, caches, the first queries
    for round_ in range(1, ROUNDS + 1):
        for which in ports:
            seconds, errors = post_all(ports[which], batches[which][round_])
            totals[which][0] += seconds
            totals[which][1] += per_round
            totals[which][2] += errors
    with app.app_context():
        stored = db.session.scalar(select(func.count()).where(InboundEvent.creator_id == creator_id))
        from app.jobs import get_queue

        if app.config["REDIS_URL"]:
            queue = get_queue("default")
            enqueued = queue.count
            queue.empty()
        else:
            enqueued = None  # the jobs sit in the server process's own fakeredis
        dialect = db.engine.dialect.name
        # Their answering jobs were dropped: leave no unanswered messages for a later worker's sweep.
        db.session.execute(delete(InboundEvent).where(InboundEvent.creator_id == creator_id))
        db.session.commit()
    sent = WARMUP + per_round * ROUNDS
    rates = {which: requests / seconds for which, (seconds, requests, _) in totals.items()}
    print(
        f"inbound webhooks: {per_round * ROUNDS} requests per target in {ROUNDS} alternating rounds, "
        f"{CLIENTS} client threads, werkzeug threaded server in a child process each"
    )
    print(
        f"database {dialect}, queue {'Redis' if app.config['REDIS_URL'] else 'fakeredis'}; "
        "answering job enqueued, NOT run (no worker during the bench)"
    )
    print()
    print(f"{'target':58} {'req/s':>8} {'errors':>7}")
    print(
        f"{'POST /webhooks/inbound (signature, InboundEvent, enqueue)':58} {rates['real']:8.0f} {totals['real'][2]:7d}"
    )
    print(f"{'bare Flask POST (form read, same TwiML)':58} {rates['bare']:8.0f} {totals['bare'][2]:7d}")
    print()
    print(f"real / bare: {rates['real'] / rates['bare']:.2f} (the webhook runs at that share of the bare rate)")
    print(
        f"stored InboundEvents: {stored} of {sent} sent"
        + (f"; jobs enqueued: {enqueued}" if enqueued is not None else "")
    )
    return 0 if stored == sent and not totals["real"][2] else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(main())
