"""The /api/v1 JSON API: blueprint registration, limits and the reference docs.

Each domain owns its `api.py` (a flask-smorest Blueprint); this module mounts
them all, applies the per-creator rate limit and serves the OpenAPI document
and its readable reference at /api/docs.
"""

from flask import Blueprint, current_app, render_template, request

from app.api import inputs
from app.api.auth import SECURITY_SCHEMES, rate_limit_key
from app.api.errors import ApiError
from app.api.openapi import CONVENTIONS, EdgeErrorsPlugin
from app.api.schemas import ErrorSchema
from app.extensions import api, limiter

docs_bp = Blueprint("api_docs", __name__)


@docs_bp.route("/api/docs")
def reference():
    return render_template("api/docs.html")


def general_limit() -> str:
    return current_app.config["RATELIMIT_API_GENERAL"]


def limit_json_body():
    """Uploads may be large; JSON bodies may not (413 before they are read)."""
    if request.path.startswith("/api/") and request.mimetype == "application/json":
        max_bytes = current_app.config["MAX_JSON_BYTES"]
        if (request.content_length or 0) > max_bytes:
            raise ApiError(413, f"The JSON body is larger than {max_bytes} bytes.")
        request.max_content_length = max_bytes


def register_api(app, blueprints):
    api.ERROR_SCHEMA = ErrorSchema  # documents our envelope as the default error
    api.init_app(app, spec_kwargs={"extra_plugins": [EdgeErrorsPlugin()], "info": {"description": CONVENTIONS}})
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    api.spec.components.response(
        "AuthError",
        {
            "description": "Missing or bad credentials, or not allowed",
            "content": {"application/json": {"schema": ErrorSchema}},
        },
    )
    app.before_request(limit_json_body)
    inputs.init_app(app)  # before the API rules are added: their <int:...> are 32-bit
    for blueprint in blueprints:
        limiter.limit(general_limit, key_func=rate_limit_key)(blueprint)
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_bp)
