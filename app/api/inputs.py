"""What every API request must be before a view reads it.

Checked once, at the edge, so no view, service or database ever sees it (the text rules hold
for pages too):

- JSON nested deeper than MAX_JSON_DEPTH (Python's parser would exhaust its
  stack: a RecursionError, not a ValueError) is a 400, like malformed JSON,
  and both carry their reason as a `details` list like any validation error;
- a JSON body that is not an object is a 422 (every API body is an object);
- NUL characters (PostgreSQL text cannot hold them) and unpaired UTF-16
  surrogates (no UTF-8 encoding exists, so no database can store them) in a
  body, a form, a query string or a path segment are a 422 naming the field;
- `<int:...>` path segments are 32-bit: a version number past 2**31 is simply
  not there (404), never an overflow in the database driver.
"""

import json
import re

from flask import current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from app.api.errors import ApiError

MAX_JSON_DEPTH = 32
INT_MAX = 2**31 - 1

_UNSAFE = re.compile(r"[\x00\ud800-\udfff]")
# Possessive quantifiers: an unterminated string cannot make these backtrack.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_NO_BODY = object()


class JsonTooDeep(ValueError):
    pass


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects in `text` nest deeper than `limit` (strings ignored)."""
    depth = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > limit:
            return True
    return False


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing too-deep nesting before parsing it.

    Every `request.get_json()` (the login limiter, the widget) then gets a
    ValueError it already handles, never a RecursionError.
    """

    def loads(self, s, **kwargs):
        text = s.decode("utf-8") if isinstance(s, (bytes, bytearray)) else s
        if json_depth_exceeds(text):
            raise JsonTooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not accepted.")
        return json.loads(text, **kwargs)


class Int32Converter(IntegerConverter):
    """`<int:...>` with a 32-bit maximum unless the rule gives its own."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, INT_MAX if max is None else max, signed)


def _printable(name: str) -> str:
    return _UNSAFE.sub("\ufffd", name)


def _unsafe_text_problem(text: str) -> str | None:
    match = _UNSAFE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "Must not contain NUL characters (\\u0000)."
    return "Must not contain unpaired UTF-16 surrogates (\\ud800-\\udfff): it is not valid Unicode text."


def unsafe_strings(value, path: tuple = ()) -> list[dict]:
    """[{field, message}] for every key or string in `value` that no database can store."""
    problems = []
    if isinstance(value, str):
        if message := _unsafe_text_problem(value):
            problems.append({"field": ".".join(path) or None, "message": message})
    elif isinstance(value, dict):
        for key, item in value.items():
            where = path + (_printable(key),)
            if message := _unsafe_text_problem(key):
                problems.append({"field": ".".join(where), "message": f"This key: {message[0].lower()}{message[1:]}"})
            problems += unsafe_strings(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += unsafe_strings(item, path + (str(index),))
    return problems


def _parameter_problems(pairs) -> list[dict]:
    problems = []
    for name, value in pairs:
        name = name if isinstance(name, str) else ""  # a multipart part whose name does not parse
        message = _unsafe_text_problem(name) or (_unsafe_text_problem(value) if isinstance(value, str) else None)
        if message:
            problems.append({"field": _printable(name), "message": message})
    return problems


def _json_body():
    """The parsed JSON body (_NO_BODY when empty); a 400 with the reason when it does not parse."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return _NO_BODY
    try:
        return current_app.json.loads(raw)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, JsonTooDeep
        reason = str(error) if isinstance(error, JsonTooDeep) else f"Not valid JSON: {error}."
        raise ApiError(
            400, "The request body is not valid JSON.", details=[{"field": None, "message": reason}]
        ) from error


def check_request():
    """before_request for every path but Twilio's (whose signature is checked first, and whose
    text is cleaned there): refuse what no view should have to handle. Pages get the same
    refusal as an error page."""
    if request.path.startswith("/webhooks/"):
        return
    problems = _parameter_problems((request.view_args or {}).items())
    problems += _parameter_problems(request.args.items(multi=True))
    if request.is_json and request.path.startswith("/api/"):
        body = _json_body()
        if body is not _NO_BODY and not isinstance(body, dict):
            sent = _JSON_TYPES.get(type(body), "null")
            raise ApiError(
                422,
                "The JSON body must be an object.",
                details=[{"field": None, "message": f"Send a JSON object {{...}}, not {sent}."}],
            )
        if body is not _NO_BODY:
            problems += unsafe_strings(body)
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        problems += _parameter_problems(request.form.items(multi=True))
    if problems:
        raise ApiError(422, "The request contains text that cannot be stored.", details=problems)


def init_app(app):
    app.json = SafeJSONProvider(app)
    app.url_map.converters["int"] = Int32Converter
    app.before_request(check_request)
