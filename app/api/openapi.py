"""The OpenAPI document states the errors the API layer answers on every route.

Views document their own success and domain errors (a 409, a 503); the edge
answers these for any operation, so they are added here once:
429 everywhere (rate limits), 404 where the path names a resource, 422 where
there is any input (parameters or a body), 400 and 413 where a body is read.
"""

from http import HTTPStatus

from apispec import BasePlugin

from app.api.inputs import MAX_JSON_DEPTH

CONVENTIONS = f"""JSON in and out; errors are always {{"error": {{code, message, details, request_id, timestamp}}}}.

Rules every request follows (a 4xx naming the field otherwise):
- a JSON body is an object, nested at most {MAX_JSON_DEPTH} levels; malformed JSON is a 400;
- a field the operation does not document is a 422 (`customPrompt`: did you mean `custom_prompt`?);
  unknown query parameters are ignored;
- text (bodies, forms, query strings, path segments) holds no NUL character and no unpaired
  UTF-16 surrogate: no database can store them;
- integers are 32-bit unless stated; lists take `page` and `limit`, or `per_page` for `limit`.
"""


def _add(responses: dict, status: int) -> None:
    if status not in responses and str(status) not in responses:
        responses[status] = HTTPStatus(status).name  # flask-smorest registers one component per status


class EdgeErrorsPlugin(BasePlugin):
    def operation_helper(self, path=None, operations=None, **kwargs):
        names_resource = "{" in (path or "")
        for operation in (operations or {}).values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            body = operation.get("requestBody") or {}
            _add(responses, 429)
            if names_resource:
                _add(responses, 404)
            if names_resource or operation.get("parameters") or body:
                _add(responses, 422)
            if body:  # malformed (JSON, multipart) or too large
                _add(responses, 400)
                _add(responses, 413)
