"""Creator profile and AI persona (ai-config) through the API."""


def test_profile_read_and_update(client, creator):
    profile = client.get("/api/v1/creators/profile", headers=creator.headers).json
    assert profile["id"] == creator.creator_id and profile["created_at"].endswith("Z")
    changes = {"company_name": "Peak Form", "timezone": "Europe/Lisbon", "website": "https://peak.example"}
    updated = client.put("/api/v1/creators/profile", headers=creator.headers, json=changes)
    assert updated.status_code == 200
    assert updated.json["company_name"] == "Peak Form" and updated.json["timezone"] == "Europe/Lisbon"
    assert updated.json["subscription_tier"] == "free" and updated.json["id"] == creator.creator_id


def test_profile_refuses_fields_it_does_not_let_you_set_and_changes_nothing(client, creator):
    smuggled = {"company_name": "Peak Form", "subscription_tier": "enterprise", "id": "someone-else"}
    refused = client.put("/api/v1/creators/profile", headers=creator.headers, json=smuggled)
    assert refused.status_code == 422
    assert {d["field"] for d in refused.json["error"]["details"]} == {"subscription_tier", "id"}
    profile = client.get("/api/v1/creators/profile", headers=creator.headers).json
    assert profile["subscription_tier"] == "free" and profile["company_name"] != "Peak Form"


def test_profile_rejects_bad_values_and_keeps_the_old_ones(client, creator):
    response = client.put(
        "/api/v1/creators/profile",
        headers=creator.headers,
        json={"timezone": "Mars/Olympus", "website": "javascript:alert(1)", "company_name": "Kept?"},
    )
    assert response.status_code == 422
    assert {d["field"] for d in response.json["error"]["details"]} == {"timezone", "website"}
    profile = client.get("/api/v1/creators/profile", headers=creator.headers).json
    assert profile["timezone"] == "UTC" and profile["company_name"] == "Alice Coach Coaching"


def test_ai_config_defaults_and_partial_update(client, creator):
    config = client.get("/api/v1/creators/ai-config", headers=creator.headers).json
    assert config["tone"] == "friendly" and config["prohibited_topics"] == []
    updated = client.put(
        "/api/v1/creators/ai-config",
        headers=creator.headers,
        json={
            "custom_prompt": "You coach runners.",
            "tone": "encouraging",
            "language": "pt-BR",
            "prohibited_topics": ["medical diagnosis", " medical diagnosis ", "legal advice"],
            "fallback_message": "Let me get Ana.",
            "model": "llama3.2:3b",
        },
    )
    assert updated.status_code == 200
    body = updated.json
    assert body["prohibited_topics"] == ["medical diagnosis", "legal advice"]
    assert body["language"] == "pt-BR" and body["fallback_message"] == "Let me get Ana."
    assert body["confidence_threshold"] == config["confidence_threshold"]


def test_ai_config_is_per_creator(client, two_creators):
    alice, bob = two_creators
    client.put("/api/v1/creators/ai-config", headers=alice.headers, json={"custom_prompt": "Alice's secret sauce"})
    assert client.get("/api/v1/creators/ai-config", headers=bob.headers).json["custom_prompt"] == ""
