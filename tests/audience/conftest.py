"""Helpers of the audience tests: users made through the API, uploads, and imports run to the end."""

import io

import pytest


def create_user(client, account, **fields) -> dict:
    response = client.post("/api/v1/users", headers=account.headers, json=fields)
    assert response.status_code == 201, response.json
    return response.json


def upload(client, account, content: bytes | str, filename: str = "users.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/api/v1/users/bulk/upload",
        headers=account.headers,
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


@pytest.fixture
def run_import(client, run_jobs):
    """run_import(account, content, filename) -> the finished import's JSON."""

    def run(account, content, filename="users.csv") -> dict:
        response = upload(client, account, content, filename)
        assert response.status_code == 202, response.json
        run_jobs()
        report = client.get(f"/api/v1/users/imports/{response.json['id']}", headers=account.headers)
        assert report.status_code == 200
        return report.json

    return run
