"""POST /widget/<id>/session: the server mints the visitor id and a signed credential that alone
resumes the visitor; refusals are readable by the page's browser (CORS) and bad bodies are 4xx."""

import re

import pytest

from tests.widget.conftest import SITE, connect, create_channel, session

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_the_server_mints_the_visitor_id_and_ignores_one_the_client_picks(client, creator):
    channel = create_channel(client, creator)
    chosen = client.post(f"/widget/{channel['id']}/session", headers={"Origin": SITE}, json={"visitor_id": "v_mine123"})
    assert chosen.status_code == 200
    assert chosen.json["visitor_id"] != "v_mine123" and chosen.json["visitor_credential"]


def test_knowing_a_visitors_id_does_not_open_their_conversation(client, live_server_url, creator):
    channel = create_channel(client, creator)
    victim, hello, _ = connect(client, live_server_url, channel)
    victim.send(type="text", text="My private question")
    victim.until(lambda f: f.get("done") or f["type"] == "status")
    victim_id = session(client, channel).json["visitor_id"]  # any id a visitor could learn
    for attempt in ({"visitor_id": victim_id}, {"visitor_credential": victim_id}):
        started = client.post(f"/widget/{channel['id']}/session", headers={"Origin": SITE}, json=attempt).json
        assert started["visitor_id"] != victim_id
    intruder, theirs, _ = connect(client, live_server_url, channel, credential=victim_id)
    assert theirs["conversation_id"] != hello["conversation_id"] and theirs["history"] == []


@pytest.mark.parametrize("case", ["forged", "tampered", "other_channel", "socket_token", "surrogate", "non_ascii"])
def test_a_credential_that_is_not_this_channels_starts_a_fresh_visitor(client, live_server_url, creator, case):
    channel, other = create_channel(client, creator), create_channel(client, creator)
    mine = session(client, channel).json
    credential = {
        "forged": "v_" + "a" * 20,
        "tampered": mine["visitor_credential"][:-2] + ("AA" if not mine["visitor_credential"].endswith("AA") else "BB"),
        "other_channel": session(client, other).json["visitor_credential"],
        "socket_token": mine["token"],
        "surrogate": "\ud800",  # could not even be encoded to check its signature: it was a 500
        "non_ascii": "é" + mine["visitor_credential"],
    }[case]
    started = session(client, channel, credential=credential)
    assert started.status_code == 200 and started.json["visitor_id"] != mine["visitor_id"]


def test_a_credential_resumes_the_same_visitor_id(client, creator):
    channel = create_channel(client, creator)
    first = session(client, channel).json
    again = session(client, channel, credential=first["visitor_credential"]).json
    assert again["visitor_id"] == first["visitor_id"]


@pytest.mark.parametrize("body", ["[]", '"x"', "3", "null", "true", "{not json"])
def test_a_body_that_is_not_a_json_object_is_a_400_in_the_envelope(client, creator, body):
    channel = create_channel(client, creator)
    response = client.post(
        f"/widget/{channel['id']}/session", headers={"Origin": SITE}, data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "BAD_REQUEST" and "JSON object" in response.json["error"]["message"]
    assert response.headers["Access-Control-Allow-Origin"] == SITE


def test_a_credential_that_is_not_a_string_is_a_422(client, creator):
    channel = create_channel(client, creator)
    response = client.post(f"/widget/{channel['id']}/session", headers={"Origin": SITE}, json={"visitor_credential": 7})
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "visitor_credential"


def test_refusals_carry_cors_headers_so_the_widget_can_read_them(client, creator):
    channel = create_channel(client, creator)
    evil = "https://evil.example"
    preflight = client.options(
        f"/widget/{channel['id']}/session",
        headers={
            "Origin": evil,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == evil
    refused = session(client, channel, origin=evil)
    assert refused.status_code == 403 and refused.headers["Access-Control-Allow-Origin"] == evil
    assert refused.json["error"]["code"] == "INSUFFICIENT_PERMISSIONS" and "website" in refused.json["error"]["message"]
    assert "token" not in refused.json and "visitor_credential" not in refused.json
    unknown = session(client, {"id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 404 and unknown.headers["Access-Control-Allow-Origin"] == SITE


def test_every_frame_timestamp_is_iso_8601_utc_with_z(client, live_server_url, coach_channel):
    visitor, _, credential = connect(client, live_server_url, coach_channel)
    visitor.send(type="text", text="How many rest days should I take each week?")
    answer = visitor.until(lambda f: f["type"] == "message" and f.get("done"))
    assert ISO_UTC.match(answer["created_at"]), answer["created_at"]
    visitor.close()
    again, hello, _ = connect(client, live_server_url, coach_channel, credential=credential)
    assert [m["created_at"] for m in hello["history"] if not ISO_UTC.match(m["created_at"])] == []
    again.close()
