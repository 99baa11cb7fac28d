"""Brute-force protection for the auth endpoints, on pages and API alike.

Per client IP across every auth call, and per account *and* IP for failed logins:
a guesser's address is throttled for that account, but a stranger elsewhere
cannot lock the real owner out by failing on purpose. The page and the API
share both counters.
"""

from flask import current_app, g, request

from app.extensions import limiter


def _login_account_and_ip() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    else:
        email = request.form.get("email")
    return f"login:{request.remote_addr}:{str(email or '').strip().lower()[:254]}"


def mark_login_failed() -> None:
    """Views call this when credentials were wrong, so the account counter moves."""
    g.login_failed = True


def _login_failed(response) -> bool:
    return response.status_code == 401 or g.get("login_failed", False)


auth_ip_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_AUTH_PER_IP"], scope="auth-ip", methods=["POST"]
)
login_account_limit = limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"],
    scope="login-account",
    key_func=_login_account_and_ip,
    methods=["POST"],
    deduct_when=_login_failed,
)
