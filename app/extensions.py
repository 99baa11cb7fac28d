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


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, _record):
    """SQLite applies ON DELETE CASCADE / SET NULL only when asked, per connection: the
    embedded default must delete like PostgreSQL does. (Migrations turn it off: migrations/env.py.)"""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
sock = Sock()
api = JsonApi()
limiter = Limiter(key_func=get_remote_address)


def redis_connection():
    """The app's Redis (or in-process fakeredis) connection."""
    return current_app.extensions["redis"]
