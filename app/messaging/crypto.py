"""Channel secrets at rest: Fernet with a key derived from SECRET_KEY (HKDF/SHA-256).

Rotating SECRET_KEY makes stored secrets unreadable: channels then need their
auth token entered again (decrypt returns {} and the channel reports it).
"""

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_INFO = b"creator-hub channel secrets v1"


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"].encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secrets(secrets: dict) -> str:
    return _fernet().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def decrypt_secrets(token: str | None) -> dict:
    """The stored secrets, or {} when there are none or they no longer decrypt."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        current_app.logger.warning("channel secrets do not decrypt with the current SECRET_KEY")
        return {}
