"""Segments: criteria validated with the bad path named, compiled into one query, evaluated per tenant."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import EndUser
from app.models.base import utcnow
from tests.audience.conftest import create_user


def segment(client, account, criteria, name="Segment"):
    return client.post("/api/v1/segments", headers=account.headers, json={"name": name, "filter_criteria": criteria})


def evaluate(client, account, criteria) -> set[str]:
    created = segment(client, account, criteria)
    assert created.status_code == 201, created.json
    result = client.post(f"/api/v1/segments/{created.json['id']}/evaluate", headers=account.headers)
    assert result.status_code == 200, result.json
    assert result.json["evaluation_time_ms"] >= 0
    assert len(result.json["sample_users"]) == min(result.json["matching_users"], 10)
    return {u["phone_e164"] for u in result.json["sample_users"]}


@pytest.fixture
def audience(app, client, creator):
    """Five users with attributes, tags, consent and activity to filter on."""
    people = {
        "+14155550001": {
            "attributes": {"city": "Austin", "tier": "premium", "age": 34, "vip": True},
            "tags": ["runner"],
            "consent_state": "OPT_IN",
            "language": "en",
        },
        "+14155550002": {
            "attributes": {"city": "Austin", "tier": "basic", "age": "29"},
            "tags": ["runner", "beta"],
            "consent_state": "STOP",
            "language": "fr",
        },
        "+14155550003": {
            "attributes": {"city": "San Francisco", "tier": "premium", "age": 51},
            "consent_state": "OPT_IN",
            "email": "c@example.com",
        },
        "+14155550004": {"attributes": {"city": "Reno", "age": "unknown"}, "tags": ["beta"]},
        "+14155550005": {"attributes": {}, "is_active": False},
    }
    ids = {phone: create_user(client, creator, phone_e164=phone, **fields)["id"] for phone, fields in people.items()}
    with app.app_context():  # activity: 0001 two days ago, 0002 forty days ago
        for phone, days in (("+14155550001", 2), ("+14155550002", 40)):
            db.session.execute(
                update(EndUser)
                .where(EndUser.id == uuid.UUID(ids[phone]))
                .values(last_active_at=utcnow() - timedelta(days=days))
            )
        db.session.commit()
    return ids


def p(*suffixes):
    return {f"+1415555000{s}" for s in suffixes}


def test_nested_and_or_compiles_to_the_right_users(client, creator, audience):
    criteria = {
        "operator": "OR",
        "conditions": [
            {
                "operator": "AND",
                "conditions": [
                    {"attribute": "city", "operator": "equals", "value": "Austin"},
                    {"attribute": "tags", "operator": "has", "value": "runner"},
                    {"attribute": "consent_state", "operator": "equals", "value": "OPT_IN"},
                ],
            },
            {
                "operator": "AND",
                "conditions": [
                    {"attribute": "attributes.tier", "operator": "equals", "value": "premium"},
                    {"attribute": "age", "operator": "gt", "value": 50},
                ],
            },
        ],
    }
    assert evaluate(client, creator, criteria) == p(1, 3)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"attribute": "city", "operator": "not_equals", "value": "Austin"}, (3, 4, 5)),
        ({"attribute": "city", "operator": "contains", "value": "san"}, (3,)),
        ({"attribute": "city", "operator": "in", "value": ["Reno", "Austin"]}, (1, 2, 4)),
        ({"attribute": "age", "operator": "gte", "value": 34}, (1, 3)),  # "unknown" is no number, "29" is one
        ({"attribute": "age", "operator": "lt", "value": 30}, (2,)),
        ({"attribute": "age", "operator": "in", "value": [29, 51]}, (2, 3)),
        ({"attribute": "tier", "operator": "exists"}, (1, 2, 3)),
        ({"attribute": "vip", "operator": "equals", "value": True}, (1,)),
        ({"attribute": "tags", "operator": "not_has", "value": "beta"}, (1, 3, 5)),
        ({"attribute": "language", "operator": "in", "value": ["en", "fr"]}, (1, 2)),
        ({"attribute": "email", "operator": "exists", "value": True}, (3,)),
        ({"attribute": "channel", "operator": "equals", "value": "sms"}, (1, 2, 3, 4, 5)),
        ({"attribute": "is_active", "operator": "equals", "value": False}, (5,)),
        ({"attribute": "engagement_score", "operator": "gte", "value": 0}, (1, 2, 3, 4, 5)),
        ({"attribute": "last_active_at", "operator": "within_days", "value": 7}, (1,)),
        ({"attribute": "last_active_at", "operator": "before", "value": "2000-01-01"}, ()),
        ({"attribute": "created_at", "operator": "after", "value": "2000-01-01T00:00:00Z"}, (1, 2, 3, 4, 5)),
    ],
)
def test_each_operator(client, creator, audience, condition, expected):
    assert evaluate(client, creator, {"operator": "AND", "conditions": [condition]}) == p(*expected)


def test_a_single_condition_is_accepted_and_the_count_is_kept(client, creator, audience):
    created = segment(client, creator, {"attribute": "tags", "operator": "has", "value": "runner"})
    result = client.post(f"/api/v1/segments/{created.json['id']}/evaluate", headers=creator.headers).json
    assert result["matching_users"] == 2 and result["segment_id"] == created.json["id"]
    listed = client.get("/api/v1/segments", headers=creator.headers).json["segments"][0]
    assert listed["estimated_audience_size"] == 2 and listed["evaluated_at"]


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        ({}, "filter_criteria"),
        ({"operator": "XOR", "conditions": [{"attribute": "a", "operator": "exists"}]}, "filter_criteria.operator"),
        ({"operator": "AND", "conditions": []}, "filter_criteria.conditions"),
        (
            {
                "operator": "AND",
                "conditions": [
                    {"attribute": "a", "operator": "exists"},
                    {"attribute": "city", "operator": "like", "value": "x"},
                ],
            },
            "filter_criteria.conditions.1.operator",
        ),
        (
            {"operator": "AND", "conditions": [{"attribute": "tags", "operator": "equals", "value": "x"}]},
            "filter_criteria.conditions.0.operator",
        ),
        (
            {"operator": "AND", "conditions": [{"attribute": "age", "operator": "in", "value": "x"}]},
            "filter_criteria.conditions.0.value",
        ),
        (
            {"operator": "AND", "conditions": [{"attribute": "created_at", "operator": "after", "value": "yesterday"}]},
            "filter_criteria.conditions.0.value",
        ),
        ({"operator": "AND", "conditions": [{"operator": "exists"}]}, "filter_criteria.conditions.0.attribute"),
    ],
)
def test_bad_criteria_are_a_422_naming_the_path(client, creator, criteria, path):
    response = segment(client, creator, criteria)
    assert response.status_code == 422, response.json
    assert response.json["error"]["details"][0]["field"] == path


def test_depth_and_condition_limits(client, creator):
    deep = {"attribute": "a", "operator": "exists"}
    for _ in range(6):
        deep = {"operator": "AND", "conditions": [deep]}
    too_deep = segment(client, creator, deep)
    assert too_deep.status_code == 422 and "5 deep" in too_deep.json["error"]["message"]
    many = {"operator": "OR", "conditions": [{"attribute": f"k{i}", "operator": "exists"} for i in range(51)]}
    assert "At most 50" in segment(client, creator, many).json["error"]["message"]


def test_update_and_delete(client, creator, audience):
    created = segment(client, creator, {"attribute": "tags", "operator": "has", "value": "runner"}).json
    changed = client.put(
        f"/api/v1/segments/{created['id']}",
        headers=creator.headers,
        json={"name": "Betas", "filter_criteria": {"attribute": "tags", "operator": "has", "value": "beta"}},
    )
    assert changed.status_code == 200 and changed.json["name"] == "Betas"
    bad = client.put(
        f"/api/v1/segments/{created['id']}",
        headers=creator.headers,
        json={"filter_criteria": {"attribute": "x", "operator": "nope"}},
    )
    assert bad.status_code == 422
    assert client.delete(f"/api/v1/segments/{created['id']}", headers=creator.headers).status_code == 204
    assert client.get(f"/api/v1/segments/{created['id']}", headers=creator.headers).status_code == 404


def test_another_creators_segments_are_404_and_their_users_never_counted(client, two_creators):
    alice, bob = two_creators
    create_user(client, alice, phone_e164="+14155551234", tags=["vip"])
    create_user(client, bob, phone_e164="+14155559999", tags=["vip"])
    mine = segment(client, bob, {"attribute": "tags", "operator": "has", "value": "vip"}).json
    theirs = segment(client, alice, {"attribute": "tags", "operator": "has", "value": "vip"}).json
    for method in ("get", "put", "delete"):
        assert (
            getattr(client, method)(
                f"/api/v1/segments/{theirs['id']}", headers=bob.headers, json={"name": "Mine"}
            ).status_code
            == 404
        )
    assert client.post(f"/api/v1/segments/{theirs['id']}/evaluate", headers=bob.headers).status_code == 404
    result = client.post(f"/api/v1/segments/{mine['id']}/evaluate", headers=bob.headers).json
    assert result["matching_users"] == 1 and result["sample_users"][0]["phone_e164"] == "+14155559999"
    assert client.get("/api/v1/segments", headers=bob.headers).json["pagination"]["total"] == 1
