"""Creator Hub: the application factory."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import filters, jobs, serving
from app.config import DEV_SECRET_KEY, INSTANCE_DIR, select_config
from app.extensions import csrf, db, limiter, login_manager, migrate, sock


def create_app(config=None) -> Flask:
    """Build the app. `config` is a config class or a dict of overrides (tests)."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(select_config())
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    _refuse_insecure_production(app)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from app.observability import configure_logging, init_request_ids

    configure_logging(app)
    init_request_ids(app)  # first, so every answer (even CSRF's and the rate limiter's refusals) carries the id
    serving.init_app(app)  # before CSRF and the limiter: an over-long URL is a 414, whatever else is wrong
    _init_extensions(app)
    filters.init_app(app)
    _register_blueprints(app)
    _register_security_headers(app)

    from app.api.errors import register_error_handlers
    from app.cli import register_cli

    register_error_handlers(app)
    register_cli(app)
    if app.config.get("PROXY_FIX_HOPS"):
        # Behind a reverse proxy: trust its X-Forwarded-* so URLs and IPs are right.
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    return app


def _refuse_insecure_production(app):
    if app.config.get("ENV_NAME") == "production" and app.config["SECRET_KEY"] in (None, "", DEV_SECRET_KEY):
        raise RuntimeError("SECRET_KEY must be set to a long random value in production.")
    if app.config.get("ENV_NAME") == "production" and len(app.config["SECRET_KEY"]) < 32:
        raise RuntimeError("SECRET_KEY is too short for production: use at least 32 random characters.")


def _init_extensions(app):
    db.init_app(app)
    # Batch mode lets Alembic alter tables on SQLite too.
    migrate.init_app(app, db, render_as_batch=True, directory=str(Path(__file__).parent.parent / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    sock.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    limiter.init_app(app)
    jobs.init_app(app)

    from app.auth import web  # noqa: F401  (registers the Flask-Login user loader)


def _register_blueprints(app):
    from app.accounts import bp as accounts_bp
    from app.accounts.api import bp as accounts_api
    from app.api import register_api
    from app.assistant.api import bp as assistant_api
    from app.audience import bp as audience_bp
    from app.audience.api import bp as audience_api
    from app.auth import bp as auth_bp
    from app.auth.api import bp as auth_api
    from app.dashboard import bp as dashboard_bp
    from app.dashboard.navigation import sections_for
    from app.faq import bp as faq_bp
    from app.faq.api import bp as faq_api
    from app.inbox import bp as inbox_bp
    from app.inbox.api import bp as inbox_api
    from app.knowledge import bp as knowledge_bp
    from app.knowledge.api import bp as knowledge_api
    from app.messaging import bp as messaging_bp
    from app.messaging import webhooks_bp
    from app.messaging.api import bp as messaging_api
    from app.programs import bp as programs_bp
    from app.programs.api import bp as programs_api
    from app.system import bp as system_bp
    from app.system.api import bp as system_api
    from app.widget import bp as channels_bp
    from app.widget import public_bp as widget_bp
    from app.widget.api import bp as channels_api

    for blueprint in (
        auth_bp,
        accounts_bp,
        dashboard_bp,
        knowledge_bp,
        faq_bp,
        inbox_bp,
        system_bp,
        channels_bp,
        widget_bp,
        audience_bp,
        messaging_bp,
        webhooks_bp,
        programs_bp,
    ):
        app.register_blueprint(blueprint)
    csrf.exempt(webhooks_bp)  # Twilio signs its callbacks (X-Twilio-Signature); there is no cookie
    api_blueprints = (
        auth_api,
        accounts_api,
        knowledge_api,
        assistant_api,
        faq_api,
        inbox_api,
        channels_api,
        audience_api,
        messaging_api,
        programs_api,
        system_api,
    )
    for blueprint in api_blueprints:
        csrf.exempt(blueprint)  # the API authenticates by header, never by cookie
    register_api(app, api_blueprints)

    @app.context_processor
    def navigation():
        from flask_login import current_user

        if current_user.is_authenticated:
            return {"nav_sections": sections_for(current_user.role)}
        return {"nav_sections": []}


def _register_security_headers(app):
    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", csp)
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
