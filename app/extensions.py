"""Bare extension objects; `create_app()` wires them to an app."""

import sqlite3

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class JsonApi(Api):
    """flask-smorest, with our error envelope instead of its own.

    The app factory registers one error handler for pages and the API alike
    (app/api/errors.py), so smorest must not install its own.
    """

    def _register_error_handlers(self):
        pass


class HeaderLimiter(Limiter):
    """Flask-Limiter, with Retry-After only on answers that ask the client to wait.

    With headers enabled, Flask-Limiter writes Retry-After (the time to its window's
    reset) on every response of a limited route, so a successful API answer said
    "Retry-After: 3600". X-RateLimit-* stay on every response.
    """

    def init_app(self, app):
        # Flask runs after_request hooks last-registered first: this one runs after the limiter's.
        app.after_request(_retry_after_only_when_refused)
        super().init_app(app)


def _retry_after_only_when_refused(response):
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """The embedded default behaves like a server database where it matters.

    - foreign_keys: SQLite applies ON DELETE CASCADE / SET NULL only when asked, per connection.
      (Migrations turn it off while they rebuild tables: migrations/env.py.)
    - WAL: readers (pages, the widget) no longer wait for the worker's writes, and with
      synchronous=NORMAL a commit is not an fsync (a power cut may lose the last commits,
      never corrupt the file).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
sock = Sock()
api = JsonApi()
limiter = HeaderLimiter(key_func=get_remote_address)


def redis_connection():
    """The app's Redis (or in-process fakeredis) connection."""
    return current_app.extensions["redis"]
