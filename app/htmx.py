"""Small helpers for serving full pages or HTMX fragments from one route."""

from flask import Response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render_fragment(template: str, block: str, **context) -> str:
    """The whole page normally; only `block` of it for an HTMX request."""
    if is_htmx():
        return render_block(template, block, **context)
    return render_template(template, **context)


def hx_redirect(url: str) -> Response:
    response = Response(status=204)
    response.headers["HX-Redirect"] = url
    return response
