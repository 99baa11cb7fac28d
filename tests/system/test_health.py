"""Health probes: /ready (public) reports dependencies, never a tenant's figures; the API's
vector store health counts only the caller's own collections."""

from tests.knowledge.test_knowledge_api import GUIDE, create_kb, upload


def index_guide(client, account, run_jobs):
    kb = create_kb(client, account)
    assert upload(client, account, kb["id"], "guide.md", GUIDE.encode()).status_code == 201
    assert run_jobs() >= 1


def test_ready_reports_no_tenant_figures(client, two_creators, run_jobs):
    for account in two_creators:
        index_guide(client, account, run_jobs)
    ready = client.get("/ready")
    assert ready.status_code == 200
    chroma = ready.json["checks"]["chroma"]
    assert chroma["status"] == "ok" and set(chroma) == {"status", "mode", "latency_ms"}


def test_chroma_health_counts_only_the_callers_collections(client, two_creators, make_creator, run_jobs):
    alice, ben = two_creators
    index_guide(client, alice, run_jobs)
    index_guide(client, ben, run_jobs)
    newcomer = make_creator("Carla Coach")
    for account, expected in ((alice, 1), (ben, 1), (newcomer, 0)):
        health = client.get("/api/v1/ai/chromadb/health", headers=account.headers)
        assert health.status_code == 200
        assert health.json["status"] == "ok" and health.json["collections"] == expected


def test_chroma_health_needs_a_caller(client):
    response = client.get("/api/v1/ai/chromadb/health")
    assert response.status_code == 401 and response.json["error"]["code"] == "AUTHENTICATION_REQUIRED"
