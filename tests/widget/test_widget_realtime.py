"""The widget socket at scale: the process's realtime hub fans agent replies out to the right
sockets, sockets leave the hub when visitors leave, and oversized frames, floods and a full
process are refused without harming anyone else."""

import json
import socket
import time

import fakeredis
import pytest
import redis
import simple_websocket

from app.realtime import Hub, conversation_channel
from tests.widget.conftest import Visitor, connect, create_channel, session


def other_process_connection(app):
    """A Redis connection of its own, as another web process or worker would have."""
    if app.config["REDIS_URL"]:
        return redis.Redis.from_url(app.config["REDIS_URL"])
    return fakeredis.FakeRedis(server=app.extensions["redis"].connection_pool.connection_kwargs["server"])


def publish_elsewhere(app, conversation_id, **event):
    connection = other_process_connection(app)
    try:
        return connection.publish(conversation_channel(conversation_id), json.dumps(event))
    finally:
        connection.close()


def frames_until_pong(visitor) -> list[dict]:
    """Ping, then everything the visitor receives up to the pong (frames queued before it)."""
    visitor.send(type="ping")
    frames = []
    while not frames or frames[-1]["type"] != "pong":
        frames.append(visitor.receive(timeout=5))
    return frames


def eventually(predicate, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_agent_reply_from_another_process_reaches_its_visitor_only(app, client, live_server_url, creator):
    channel = create_channel(client, creator)
    ana, ana_hello, _ = connect(client, live_server_url, channel)
    ben, ben_hello, _ = connect(client, live_server_url, channel)
    assert ana_hello["conversation_id"] != ben_hello["conversation_id"]

    assert publish_elsewhere(app, ana_hello["conversation_id"], type="message", sender="agent", text="Hi Ana") >= 1

    reply = ana.until(lambda f: f["type"] == "message")
    assert reply["sender"] == "agent" and reply["text"] == "Hi Ana"
    assert [f["type"] for f in frames_until_pong(ben)] == ["pong"]


def test_both_tabs_of_one_conversation_get_the_agent_reply(app, client, live_server_url, creator):
    channel = create_channel(client, creator)
    first, hello, credential = connect(client, live_server_url, channel)
    second, again, _ = connect(client, live_server_url, channel, credential=credential)
    assert again["conversation_id"] == hello["conversation_id"]

    publish_elsewhere(app, hello["conversation_id"], type="message", sender="agent", text="One for both")

    for tab in (first, second):
        assert tab.until(lambda f: f["type"] == "message")["text"] == "One for both"


def test_events_to_one_socket_arrive_in_order(app, client, live_server_url, creator):
    channel = create_channel(client, creator)
    visitor, hello, _ = connect(client, live_server_url, channel)
    for number in range(30):
        publish_elsewhere(app, hello["conversation_id"], type="message", sender="agent", text=str(number))
    texts = [visitor.until(lambda f: f["type"] == "message")["text"] for _ in range(30)]
    assert texts == [str(n) for n in range(30)]


def test_socket_leaves_the_hub_when_the_visitor_disconnects(app, client, live_server_url, creator):
    channel = create_channel(client, creator)
    visitor, hello, _ = connect(client, live_server_url, channel)
    hub = app.extensions["realtime_hub"]
    conversation_id = hello["conversation_id"]
    assert hub.sockets(conversation_id) == 1

    visitor.close()

    assert eventually(lambda: hub.sockets(conversation_id) == 0), "the handler never unregistered"
    assert publish_elsewhere(app, conversation_id, type="message", sender="agent", text="Anyone?") >= 1  # no error


def test_a_dropped_client_connection_also_leaves_the_hub(app, client, live_server_url, creator):
    """A tab killed without a close frame: the TCP connection just ends."""
    channel = create_channel(client, creator)
    visitor, hello, _ = connect(client, live_server_url, channel)
    hub = app.extensions["realtime_hub"]
    visitor.ws.sock.shutdown(socket.SHUT_RDWR)
    assert eventually(lambda: hub.sockets(hello["conversation_id"]) == 0), "the handler never unregistered"


def test_a_1mb_frame_gets_an_error_frame_and_the_socket_stays_up(client, live_server_url, creator):
    channel = create_channel(client, creator)
    visitor, _, _ = connect(client, live_server_url, channel)
    visitor.ws.send(json.dumps({"type": "text", "text": "x" * 1_000_000}))  # 1 MB: under the 1 MiB cap
    frame = visitor.receive()
    assert frame["type"] == "error" and frame["code"] == "BAD_FRAME"
    assert [f["type"] for f in frames_until_pong(visitor)] == ["pong"]


def test_a_frame_over_1mib_closes_the_socket_and_the_process_keeps_serving(app, client, live_server_url, creator):
    channel = create_channel(client, creator)
    visitor, hello, _ = connect(client, live_server_url, channel)
    try:
        visitor.ws.send("x" * (2 * 1024 * 1024))
        while visitor.ws.receive(timeout=5) is not None:
            pass
    except simple_websocket.ConnectionClosed as closed:
        assert closed.reason == 1009  # "message too big"
    except OSError:
        pass  # the server closed the connection while the client still wrote
    assert eventually(lambda: app.extensions["realtime_hub"].sockets(hello["conversation_id"]) == 0, timeout=10)

    fresh, hello, _ = connect(client, live_server_url, channel)
    assert hello["type"] == "connection_established"
    assert [f["type"] for f in frames_until_pong(fresh)] == ["pong"]
    assert client.get("/health").status_code == 200


def test_a_flood_of_frames_gets_one_rate_limit_error_frame(app, client, live_server_url, creator, monkeypatch):
    monkeypatch.setitem(app.config, "WIDGET_FRAMES_PER_MINUTE", 10)
    channel = create_channel(client, creator)
    visitor, _, _ = connect(client, live_server_url, channel)
    for _ in range(200):
        visitor.send(type="ping")
    frames = [visitor.receive(timeout=5) for _ in range(11)]
    assert [f["type"] for f in frames] == ["pong"] * 10 + ["error"]
    assert frames[-1]["code"] == "RATE_LIMITED"
    assert visitor.ws.receive(timeout=0.5) is None  # the rest of the flood is dropped, not answered


def test_a_full_process_refuses_new_sockets_until_one_leaves(app, client, live_server_url, creator, monkeypatch):
    monkeypatch.setitem(app.config, "WIDGET_MAX_SOCKETS", 1)
    channel = create_channel(client, creator)
    first, _, _ = connect(client, live_server_url, channel)

    refused = Visitor(live_server_url, channel, session(client, channel).json["token"])
    frame = refused.receive()
    assert frame["type"] == "error" and frame["code"] == "CONNECTION_REFUSED"
    with pytest.raises(simple_websocket.ConnectionClosed) as closed:
        refused.receive(timeout=5)
    assert closed.value.reason == 1013  # try again later: the widget reconnects
    assert client.get("/health").status_code == 200

    first.close()
    assert eventually(lambda: len(app.extensions["realtime_hub"]) == 0)
    assert connect(client, live_server_url, channel)[1]["type"] == "connection_established"


def test_the_hub_resubscribes_after_redis_drops_its_connection(app, client, live_server_url, creator):
    if not app.config["REDIS_URL"]:
        pytest.skip("the embedded fakeredis lives in this process: its connection cannot drop")
    channel = create_channel(client, creator)
    visitor, hello, _ = connect(client, live_server_url, channel)
    hub = app.extensions["realtime_hub"]
    host, port = hub._pubsub.connection._sock.getsockname()[:2]
    # Kill exactly the hub's connection: other test runs share this Redis server.
    assert app.extensions["redis"].execute_command("CLIENT", "KILL", "ADDR", f"{host}:{port}")

    def delivered() -> bool:
        publish_elsewhere(app, hello["conversation_id"], type="message", sender="agent", text="Back")
        return visitor.ws.receive(timeout=0.2) is not None

    assert eventually(delivered, timeout=10), "no event reached the socket after the drop"


def test_a_quiet_dead_subscription_is_noticed_by_the_heartbeat_and_renewed(app):
    """The hub alone on an embedded fakeredis: its connection vanishes without an error."""
    server = fakeredis.FakeServer()
    hub = Hub(fakeredis.FakeRedis(server=server), heartbeat=0.2)
    received = []
    registration = hub.register("c-1", received.append)
    hub._pubsub.connection.disconnect()  # what the reader sees after a silent drop: nothing, ever

    def delivered() -> bool:
        fakeredis.FakeRedis(server=server).publish(conversation_channel("c-1"), json.dumps({"n": 1}))
        time.sleep(0.1)
        return bool(received)

    assert eventually(delivered, timeout=5), "the hub never resubscribed"
    hub.unregister(registration)
    assert len(hub) == 0 and hub.sockets("c-1") == 0
