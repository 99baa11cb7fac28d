"""Log lines are JSON and carry the request id and creator."""

import io
import json
import logging


def test_each_request_logs_one_json_line_with_request_id_and_creator(client, creator):
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        client.get("/api/v1/auth/me", headers=creator.headers | {"X-Request-ID": "log-test-1"})
    finally:
        handler.setStream(previous)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    access = next(line for line in lines if line["message"] == "request")
    assert access["request_id"] == "log-test-1" and access["creator_id"] == creator.creator_id
    assert access["status"] == 200 and access["path"] == "/api/v1/auth/me"
    assert access["level"] == "INFO" and access["service"] == "creator-hub" and "timestamp" in access
