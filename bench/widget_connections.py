"""Concurrent idle widget connections one web process holds, and its memory per connection.

    .venv/bin/python -m bench.widget_connections

The server is the production one: gunicorn, gthread worker class, ONE worker,
`--threads $WEB_THREADS --worker-connections $WEB_CONNECTIONS` (the Procfile's
defaults, 512 and 2048), started by this script on 127.0.0.1 on the embedded
defaults (SQLite in a temporary instance directory, in-process fakeredis), or
on REDIS_URL / DATABASE_URL when set. Rate limits are off (RATELIMIT_ENABLED=0)
because every socket needs a visitor session and they all come from 127.0.0.1.

The client (this process) opens sockets in steps up to each of BENCH_SOCKETS
(default 100,500,1000) with websocket-client (no thread per socket: one
selector thread answers the server's pings and drains whatever arrives). A
socket counts as held when its connection_established frame came; refused
when the server said CONNECTION_REFUSED (the process is at WIDGET_MAX_SOCKETS);
failed when nothing came within 10 s. At each step, with every socket open:

- RSS and thread count of the gunicorn worker, from /proc/<pid>/status;
  per connection = (RSS now - RSS with 0 sockets) / sockets held;
- CPU the worker burns in 5 s of idleness (utime + stime from /proc/<pid>/stat);
- GET /health, 30 sequential requests, median and max, and the median as a
  ratio to the median with 0 sockets open (the baseline of the same run);
- an agent reply through POST /api/v1/conversations/{id}/reply to the
  conversation of the last socket opened: time until that socket has it.

BENCH_APP_DIR runs the server from another checkout (the same venv), to
measure older code: `git archive <commit> | tar -x -C /tmp/old`.
"""

import json
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from statistics import median

import websocket

from bench.common import free_port, in_instance

REPO = Path(__file__).resolve().parent.parent
STEPS = tuple(int(n) for n in os.environ.get("BENCH_SOCKETS", "100,500,1000").split(","))
WEB_THREADS = int(os.environ.get("WEB_THREADS", 512))
WEB_CONNECTIONS = int(os.environ.get("WEB_CONNECTIONS", 2048))
APP_DIR = Path(os.environ.get("BENCH_APP_DIR", REPO))
SITE = "https://bench.example"
HEALTH_REQUESTS = 30
IDLE_SECONDS = 5
TIMEOUT = 10


def prepare(instance: str) -> str:
    """Migrate the database and make a creator; returns an API access token."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth import services as auth_services

    app = create_app()
    with app.app_context():
        upgrade()
        member = auth_services.register_creator("bench@example.com", "bench-password-42", "Bench", "Bench Coaching")
        return auth_services.login_for_api(member, "bench", "127.0.0.1")["access_token"]


class Server:
    """gunicorn with one gthread worker, as the Procfile runs it."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            str(REPO / ".venv/bin/gunicorn"),
            "--worker-class=gthread",
            "--workers=1",
            f"--threads={WEB_THREADS}",
            f"--worker-connections={WEB_CONNECTIONS}",
            f"--bind=127.0.0.1:{self.port}",
            "--log-level=warning",
            "--no-control-socket",
            "wsgi:app",
        ]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, cwd=APP_DIR, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http("GET", f"{self.url}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit("gunicorn did not start")
        self.worker = int(Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()[0])

    def status(self) -> dict[str, int]:
        text = Path(f"/proc/{self.worker}/status").read_text()
        return {key: int(re.search(rf"^{key}:\s+(\d+)", text, re.M).group(1)) for key in ("VmRSS", "Threads")}

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.worker}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def http(method: str, url: str, body=None, headers=None, timeout=TIMEOUT) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class Clients:
    """Open sockets; one selector thread answers pings and keeps what arrives."""

    def __init__(self, base_url: str, channel_id: str):
        self.base_url, self.channel_id = base_url, channel_id
        self.selector = selectors.DefaultSelector()
        self.held: list[tuple[websocket.WebSocket, str]] = []
        self.refused = self.failed = 0
        self.arrived: dict[int, float] = {}  # id(ws) -> when an agent message came
        threading.Thread(target=self._drain, daemon=True).start()

    def open(self) -> bool:
        """One more visitor; False when nothing answered in time."""
        try:
            status, started = http("POST", f"{self.base_url}/widget/{self.channel_id}/session", {}, {"Origin": SITE})
            url = f"{self.base_url.replace('http', 'ws', 1)}/widget/ws/{self.channel_id}?token={started['token']}"
            ws = websocket.create_connection(url, timeout=TIMEOUT, origin=SITE)
            hello = json.loads(ws.recv())
        except (OSError, KeyError, websocket.WebSocketException):
            self.failed += 1
            return False
        if hello["type"] != "connection_established":
            self.refused += 1
            ws.close()
            return True
        self.held.append((ws, hello["conversation_id"]))
        self.selector.register(ws.sock, selectors.EVENT_READ, ws)
        return True

    def _drain(self) -> None:
        while True:
            for key, _ in self.selector.select(timeout=0.5) if self.selector.get_map() else []:
                ws = key.data
                try:
                    opcode, frame = ws.recv_data_frame(control_frame=True)  # answers pings itself
                except (OSError, websocket.WebSocketException):
                    self.selector.unregister(key.fileobj)
                    continue
                if opcode == websocket.ABNF.OPCODE_TEXT and '"agent"' in frame.data.decode():
                    self.arrived[id(ws)] = time.perf_counter()
            if not self.selector.get_map():
                time.sleep(0.2)

    def close_all(self) -> None:
        for ws, _ in self.held:
            try:
                self.selector.unregister(ws.sock)
            except (KeyError, ValueError):
                pass
            ws.close()
        self.held.clear()


def health(base_url: str) -> tuple[float, float, int]:
    """Median and max ms of GET /health, and how many failed (timed out)."""
    times, failures = [], 0
    for _ in range(HEALTH_REQUESTS):
        started = time.perf_counter()
        try:
            http("GET", f"{base_url}/health", timeout=5)
            times.append((time.perf_counter() - started) * 1000)
        except OSError:
            failures += 1
            if failures == 3:  # the process does not answer: no use waiting 5 s thirty times
                break
    return (median(times) if times else float("nan")), (max(times) if times else float("nan")), failures


def agent_reply_ms(server: Server, clients: Clients, token: str) -> float | None:
    ws, conversation_id = clients.held[-1]
    clients.arrived.pop(id(ws), None)  # the same socket may have had one at an earlier step
    started = time.perf_counter()
    try:
        status, _ = http(
            "POST",
            f"{server.url}/api/v1/conversations/{conversation_id}/reply",
            {"message": "Hi, a human here."},
            {"Authorization": f"Bearer {token}"},
        )
    except OSError:
        return None
    if status != 201:
        return None
    deadline = time.monotonic() + TIMEOUT
    while id(ws) not in clients.arrived and time.monotonic() < deadline:
        time.sleep(0.001)
    return (clients.arrived[id(ws)] - started) * 1000 if id(ws) in clients.arrived else None


def measure(server: Server, clients: Clients, token: str) -> dict:
    status = server.status()
    cpu = server.cpu_seconds()
    time.sleep(IDLE_SECONDS)
    idle_cpu = (server.cpu_seconds() - cpu) / IDLE_SECONDS * 100
    health_p50, health_max, health_failed = health(server.url)
    return {
        "held": len(clients.held),
        "refused": clients.refused,
        "failed": clients.failed,
        "rss_kb": status["VmRSS"],
        "threads": status["Threads"],
        "idle_cpu": idle_cpu,
        "health_p50": health_p50,
        "health_max": health_max,
        "health_failed": health_failed,
        "reply_ms": agent_reply_ms(server, clients, token) if clients.held else None,
    }


def main() -> int:
    os.environ["RATELIMIT_ENABLED"] = "0"
    return in_instance(run, "bench-widget-connections-")


def run(instance: str) -> int:
    logging.getLogger("websocket").setLevel(logging.CRITICAL)  # a refused socket is counted, not logged
    token = prepare(instance)
    env = dict(os.environ, WEB_THREADS=str(WEB_THREADS), PYTHONPATH=str(APP_DIR))
    server = Server(env)
    rows = []
    try:
        headers = {"Authorization": f"Bearer {token}"}
        body = {
            "channel_type": "web",
            "channel_name": "Bench",
            "configuration": {"allowed_origins": [SITE], "title": "Bench"},
        }
        status, channel = http("POST", f"{server.url}/api/v1/channels", body, headers)
        assert status == 201, channel
        clients = Clients(server.url, channel["id"])
        clients.open()  # warm up: the first socket starts the hub, loads the routes
        clients.close_all()
        health(server.url)  # warm up /health too, so the baseline is not its first calls
        time.sleep(1)
        started = time.perf_counter()
        rows.append(measure(server, clients, token))
        for target in STEPS:
            while len(clients.held) + clients.refused + clients.failed < target:
                if not clients.open() and clients.failed >= 3:
                    break  # the process stopped answering; the rest would only time out too
            rows.append(measure(server, clients, token))
        elapsed = time.perf_counter() - started
        clients.close_all()
    finally:
        server.stop()

    redis = "Redis " + os.environ["REDIS_URL"] if os.environ.get("REDIS_URL") else "embedded fakeredis"
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(
        f"gunicorn gthread, 1 worker, --threads {WEB_THREADS} --worker-connections {WEB_CONNECTIONS}; "
        f"{database}, {redis}; server code from {APP_DIR}; {elapsed:.0f} s in all."
    )
    print(
        f"Per step: RSS/threads of the worker, its CPU over {IDLE_SECONDS} s idle, GET /health x{HEALTH_REQUESTS} "
        "(ratio = median / median with 0 sockets), agent reply (HTTP POST) until it reaches its socket."
    )
    print()
    base, base_rss = rows[0]["health_p50"], rows[0]["rss_kb"]
    print(
        f"{'opened':>6} {'held':>5} {'refused':>7} {'failed':>6} {'RSS MB':>7} {'KB/conn':>7} {'threads':>7} "
        f"{'idle CPU %':>10} {'/health p50 ms':>14} {'max ms':>7} {'ratio':>6} {'timeouts':>8} {'reply ms':>8}"
    )
    for opened, row in zip((0, *STEPS), rows, strict=True):
        per_connection = (row["rss_kb"] - base_rss) / row["held"] if row["held"] else float("nan")
        reply = f"{row['reply_ms']:8.1f}" if row["reply_ms"] is not None else f"{'none':>8}"
        print(
            f"{opened:6d} {row['held']:5d} {row['refused']:7d} {row['failed']:6d} {row['rss_kb'] / 1024:7.1f} "
            f"{per_connection:7.0f} {row['threads']:7d} {row['idle_cpu']:10.1f} {row['health_p50']:14.2f} "
            f"{row['health_max']:7.1f} {row['health_p50'] / base:6.2f} {row['health_failed']:8d} {reply}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
