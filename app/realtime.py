"""Pushing events to open widget sockets, from any process, through Redis pub/sub.

An agent's reply is stored by whichever web process handled the agent's
request; the visitor's WebSocket may live in another process. So nothing is
sent to a socket directly: events are published on the conversation's
channel, and the process holding the socket forwards what it receives.
On the embedded default the same code runs on the in-process fakeredis.

Each web process has one `Hub`: ONE pub/sub connection with a pattern
subscription on every conversation channel, read by one daemon thread that
hands each event to the sockets registered for that conversation here. An
idle socket then costs no Redis connection and no wake-ups. Events are sent
by a few daemon sender threads, in order per socket, so a visitor whose
network stalls delays only their own events, never the listener.
"""

import json
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator

import redis
from flask import current_app

from app.extensions import redis_connection

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "creator-hub:conversation:"
SENDER_THREADS = 4
MAX_PENDING = 256  # events queued for one socket; past this its oldest are dropped
READY_TIMEOUT = 5.0  # seconds register() waits for the first subscription
RECONNECT_DELAYS = (0.1, 0.5, 1, 2, 5)


def conversation_channel(conversation_id: uuid.UUID | str) -> str:
    return f"{CHANNEL_PREFIX}{conversation_id}"


def publish(conversation_id: uuid.UUID | str, event: dict) -> int:
    """Send `event` (JSON-able) to every socket of the conversation; returns the listener count.

    The count is of subscribed connections (one per web process with a hub), not of sockets.
    """
    return redis_connection().publish(conversation_channel(conversation_id), json.dumps(event, default=str))


class HubFull(Exception):
    """This process already holds as many sockets as it may."""


class Registration:
    """One socket's place in the hub: its conversation and its queue of events to send."""

    def __init__(self, hub: "Hub", conversation_id: str, deliver: Callable[[dict], None]):
        self.conversation_id = conversation_id
        self._hub = hub
        self._deliver = deliver
        self._pending: deque[dict] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()
        self._scheduled = False
        self.active = True

    def offer(self, event: dict) -> None:
        with self._lock:
            if len(self._pending) == MAX_PENDING:
                log.warning("widget socket too slow, dropping an event", extra={"conversation": self.conversation_id})
            self._pending.append(event)
            if self._scheduled:
                return
            self._scheduled = True
        self._hub._ready_to_send.put(self)

    def drain(self) -> None:
        """Send what is queued, oldest first (on a sender thread; one at a time per socket)."""
        while True:
            with self._lock:
                if not self._pending or not self.active:
                    self._pending.clear()
                    self._scheduled = False
                    return
                event = self._pending.popleft()
            try:
                self._deliver(event)
            except Exception:  # a closed socket: its handler is unregistering it
                log.debug("event not delivered", exc_info=True)


class Hub:
    """This process's widget sockets, fed by one Redis pub/sub connection."""

    def __init__(self, connection, heartbeat: float = 30.0):
        self._connection = connection
        self.heartbeat = heartbeat  # seconds of silence before the listener pings Redis
        self._lock = threading.Lock()
        self._by_conversation: dict[str, set[Registration]] = {}
        self._count = 0
        self._ready = threading.Event()
        self._started = False
        self._pubsub = None  # the listener's, while it runs
        self._ready_to_send: queue.SimpleQueue[Registration] = queue.SimpleQueue()

    def __len__(self) -> int:
        return self._count

    def sockets(self, conversation_id) -> int:
        return len(self._by_conversation.get(str(conversation_id), ()))

    def register(self, conversation_id, deliver: Callable[[dict], None], limit: int | None = None) -> Registration:
        """Start forwarding the conversation's events to `deliver`; raises HubFull past `limit` sockets."""
        self._start()
        registration = Registration(self, str(conversation_id), deliver)
        with self._lock:
            if limit is not None and self._count >= limit:
                raise HubFull()
            self._by_conversation.setdefault(registration.conversation_id, set()).add(registration)
            self._count += 1
        if not self._ready.wait(READY_TIMEOUT):
            log.warning("realtime hub not subscribed yet; events may be late")
        return registration

    def unregister(self, registration: Registration) -> None:
        registration.active = False
        with self._lock:
            sockets = self._by_conversation.get(registration.conversation_id, set())
            if registration in sockets:
                sockets.discard(registration)
                self._count -= 1
            if not sockets:
                self._by_conversation.pop(registration.conversation_id, None)

    def dispatch(self, channel: str, data) -> None:
        conversation_id = channel.removeprefix(CHANNEL_PREFIX)
        with self._lock:
            targets = list(self._by_conversation.get(conversation_id, ()))
        if not targets:
            return
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("unreadable realtime event dropped", extra={"channel": channel})
            return
        for registration in targets:
            registration.offer(event)

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._listen, name="realtime-hub", daemon=True).start()
        for number in range(SENDER_THREADS):
            threading.Thread(target=self._send_loop, name=f"realtime-send-{number}", daemon=True).start()

    def _listen(self) -> None:
        """Read the pattern subscription forever; resubscribe after Redis drops."""
        failures = 0
        while True:
            pubsub = self._pubsub = self._connection.pubsub()
            try:
                pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                self._read(pubsub, on_subscribed=lambda: self._ready.set())
            except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning("realtime hub lost Redis, resubscribing", extra={"error": str(error), "retry_in": delay})
                time.sleep(delay)
            except Exception:  # never let one bad message end the process's realtime
                log.exception("realtime hub listener failed; restarting it")
                time.sleep(RECONNECT_DELAYS[-1])
            finally:
                _close_quietly(pubsub)

    def _read(self, pubsub, on_subscribed) -> None:
        """Dispatch messages; when idle, ping, and give up on a connection that stopped answering.

        A connection dropped without a reset (a NAT timeout, a failover) never raises: it
        just goes quiet, and every socket of this process would miss its events for good.
        """
        heard = time.monotonic()
        while True:
            message = pubsub.get_message(timeout=self.heartbeat)
            now = time.monotonic()
            if message is None:
                if now - heard > 3 * self.heartbeat:
                    raise redis.ConnectionError("Redis stopped answering the hub's pings")
                pubsub.ping()
                continue
            heard = now
            if message["type"] == "psubscribe":
                on_subscribed()
            elif message["type"] == "pmessage":
                self.dispatch(_text(message["channel"]), message["data"])

    def _send_loop(self) -> None:
        while True:
            self._ready_to_send.get().drain()


_hub_lock = threading.Lock()


def hub() -> "Hub":
    """The current app's hub in this process, made on first use (the listener starts on first register)."""
    app = current_app._get_current_object()
    with _hub_lock:
        if "realtime_hub" not in app.extensions:
            app.extensions["realtime_hub"] = Hub(
                app.extensions["redis"], heartbeat=app.config["WIDGET_HUB_HEARTBEAT_SECONDS"]
            )
        return app.extensions["realtime_hub"]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _close_quietly(pubsub) -> None:
    try:
        pubsub.close()
    except Exception:  # already broken: nothing left to release
        pass


class Subscription:
    """The events of one conversation on a pub/sub connection of its own.

    Not used by the widget (the hub serves it); tests use it to watch what a widget would receive.
    """

    def __init__(self, connection, conversation_id):
        self._pubsub = connection.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(conversation_channel(conversation_id))

    def poll(self, timeout: float = 0.0) -> Iterator[dict]:
        """Events waiting now (waiting up to `timeout` for the first one)."""
        message = self._pubsub.get_message(timeout=timeout)
        while message is not None:
            if message["type"] == "message":
                yield json.loads(message["data"])
            message = self._pubsub.get_message(timeout=0)

    def close(self) -> None:
        self._pubsub.close()
