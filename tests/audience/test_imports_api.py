"""Bulk imports: CSV and JSON upserted on a job, with a report of created, updated and per-row errors."""

import json

from tests.audience.conftest import create_user, upload


def users(client, account, query=""):
    return client.get(f"/api/v1/users?limit=100&{query}", headers=account.headers).json


def test_csv_with_bom_creates_users_and_reports_bad_rows(client, creator, run_import):
    csv = (
        "\ufeffphone_e164,name,city,tier,consent_state,tags,timezone\n"
        "+14155551234,John Doe,San Francisco,premium,OPT_IN,vip;beta,America/Los_Angeles\n"
        "4155555678,Jane Smith,Austin,standard,OPT_IN,,\n"
        "+14155550002,Kim,Austin,standard,MAYBE,,\n"
        "+14155550003,Lee,Austin,standard,,,Mars/Base\n"
        "+14155551234,John Again,Reno,,,,\n"
        "+14155550004,Max,Austin,standard,,,\n"
    )
    report = run_import(creator, csv)
    assert report["status"] == "completed", report
    assert (report["total_rows"], report["processed_rows"]) == (6, 6)
    assert (report["created"], report["updated"], report["error_count"]) == (2, 0, 4)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "phone_e164"),
        (4, "consent_state"),
        (5, "timezone"),
        (6, None),
    ]
    assert "E.164" in report["errors"][0]["message"] and "row 2" in report["errors"][3]["message"]
    john = client.get("/api/v1/users/lookup?phone=%2B14155551234", headers=creator.headers).json
    assert john["display_name"] == "John Doe"  # the BOM did not eat the first column
    assert john["attributes"] == {"city": "San Francisco", "tier": "premium"}
    assert john["tags"] == ["beta", "vip"] and john["timezone"] == "America/Los_Angeles"
    assert john["consent_state"] == "OPT_IN"
    assert [(e["state"], e["source"]) for e in john["consent_history"]] == [("OPT_IN", "import")]


def test_a_second_import_updates_by_phone_and_external_id(client, creator, run_import):
    existing = create_user(client, creator, phone_e164="+14155551234", attributes={"city": "Austin"}, tags=["old"])
    api_user = create_user(client, creator, external_id="crm-1")
    report = run_import(
        creator,
        "phone_e164,external_id,city,consent_state,tags\n+14155551234,,Dallas,STOP,new\n,crm-1,Reno,,\n,crm-2,Waco,,\n",
    )
    assert (report["created"], report["updated"], report["error_count"]) == (1, 2, 0), report
    updated = client.get(f"/api/v1/users/{existing['id']}", headers=creator.headers).json
    assert updated["attributes"] == {"city": "Dallas"} and updated["tags"] == ["new", "old"]
    assert updated["consent_state"] == "STOP" and updated["consent_history"][0]["source"] == "import"
    assert client.get(f"/api/v1/users/{api_user['id']}", headers=creator.headers).json["attributes"] == {"city": "Reno"}


def test_a_wrong_header_refuses_the_whole_file(client, creator, run_import):
    report = run_import(creator, "telephone,name\n+14155551234,John\n")
    assert report["status"] == "failed"
    assert "phone_e164 or external_id" in report["failure"] and "telephone" in report["failure"]
    assert report["created"] == 0 and users(client, creator)["pagination"]["total"] == 0


def test_unreadable_files_are_refused_with_a_reason(client, creator, run_import):
    assert "UTF-8" in run_import(creator, b"phone_e164\n\xff\xfe+1415\n")["failure"]
    assert "not valid JSON" in run_import(creator, "[{", "users.json")["failure"]
    assert "no rows" in run_import(creator, "phone_e164\n")["failure"]
    refused = upload(client, creator, "hello", "users.txt")
    assert refused.status_code == 422 and "csv" in refused.json["error"]["message"].lower()
    missing = client.post(
        "/api/v1/users/bulk/upload", headers=creator.headers, data={}, content_type="multipart/form-data"
    )
    assert missing.status_code == 422


def test_json_import(client, creator, run_import):
    document = {
        "users": [
            {
                "phone_e164": "+14155551234",
                "name": "Ann",
                "attributes": {"age": 34},
                "tags": ["vip"],
                "consent_state": "opt_in",
            },
            {"external_id": "crm-9", "email": "not-an-email"},
            "nonsense",
        ]
    }
    report = run_import(creator, json.dumps(document), "users.json")
    assert (report["created"], report["error_count"]) == (1, 2), report
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(2, "email"), (3, None)]
    ann = client.get("/api/v1/users/lookup?phone=%2B14155551234", headers=creator.headers).json
    assert ann["attributes"] == {"age": 34} and ann["consent_state"] == "OPT_IN" and ann["tags"] == ["vip"]


def test_100k_rows_import_completely_with_the_bad_row_reported(client, creator, run_import):
    lines = ["phone_e164,name,city,consent_state,tags"]
    lines += [
        f"+1415{i:07d},User {i},City {i % 50},{'OPT_IN' if i % 3 else 'PENDING'},t{i % 7}" for i in range(100_000)
    ]
    lines += ["+1bad,Bad,X,,"]
    report = run_import(creator, "\n".join(lines))
    assert report["status"] == "completed"
    assert (report["created"], report["error_count"], report["processed_rows"]) == (100_000, 1, 100_001)
    assert users(client, creator, "consent_state=OPT_IN&limit=1")["pagination"]["total"] == 66_666


def test_errors_report_keeps_the_first_1000_and_counts_all(client, creator, run_import):
    report = run_import(creator, "phone_e164\n" + "\n".join(f"bad-{i}" for i in range(1500)))
    assert report["error_count"] == 1500 and len(report["errors"]) == 1000


def test_another_creators_imports_are_404(client, two_creators, run_import):
    alice, bob = two_creators
    report = run_import(alice, "phone_e164\n+14155551234\n")
    assert client.get(f"/api/v1/users/imports/{report['id']}", headers=bob.headers).status_code == 404
    assert client.get("/api/v1/users/imports", headers=bob.headers).json["pagination"]["total"] == 0
    assert users(client, bob)["pagination"]["total"] == 0


def test_a_csv_tags_cell_splits_on_commas_semicolons_and_pipes(client, creator, run_import):
    report = run_import(creator, 'phone_e164,tags\n+14155550001,"runner,vip"\n+14155550002, a ; b | a \n')
    assert (report["created"], report["error_count"]) == (2, 0), report
    tags = [
        client.get(f"/api/v1/users/lookup?phone=%2B{phone}", headers=creator.headers).json["tags"]
        for phone in ("14155550001", "14155550002")
    ]
    assert tags == [["runner", "vip"], ["a", "b"]]


def test_json_tags_take_a_list_or_one_string_and_refuse_anything_else(client, creator, run_import):
    document = [
        {"phone_e164": "+14155550001", "tags": ["runner", " vip ", "runner"]},
        {"phone_e164": "+14155550002", "tags": "runner; vip"},
        {"phone_e164": "+14155550003", "tags": [1, 2]},
        {"phone_e164": "+14155550004", "tags": {"a": 1}},
    ]
    report = run_import(creator, json.dumps(document), "users.json")
    assert (report["created"], report["error_count"]) == (2, 2), report
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "tags"), (4, "tags")]
    for phone in ("14155550001", "14155550002"):
        user = client.get(f"/api/v1/users/lookup?phone=%2B{phone}", headers=creator.headers).json
        assert user["tags"] == ["runner", "vip"]
