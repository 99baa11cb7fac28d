"""Configuration rules that protect production."""

import pytest

from app.config import DEV_SECRET_KEY, ProductionConfig


@pytest.mark.parametrize("secret", [None, "", DEV_SECRET_KEY, "too-short"])
def test_production_refuses_to_start_without_a_real_secret_key(make_app, secret):
    class Prod(ProductionConfig):
        SECRET_KEY = secret

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        make_app(Prod)


def test_production_starts_with_a_real_secret_key(make_app):
    class Prod(ProductionConfig):
        SECRET_KEY = "k" * 48
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    app = make_app(Prod)
    assert app.config["SESSION_COOKIE_SECURE"] is True
