"""Authenticated encryption of recoverable secrets (Subsonic app-passwords, ListenBrainz tokens): the only importer
of cryptography.

The Fernet key is derived with HKDF-SHA256 from `settings.SUBSONIC_SECRET_KEY` and a purpose label, so the same
environment secret can never decrypt anything encrypted for another purpose, and changing it turns every stored
ciphertext into a clean `SecretUnreadableError` instead of garbage.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

APP_PASSWORD_INFO = b"mcma subsonic app-password v1"
LISTENBRAINZ_TOKEN_INFO = b"mcma listenbrainz token v1"
LASTFM_SESSION_INFO = b"mcma lastfm session v1"


class SecretUnreadableError(Exception):
    """The ciphertext was made with another key or was altered; the secret is lost and must be regenerated."""


@lru_cache(maxsize=4)
def _fernet(master_key: str, info: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))


def _current(purpose: bytes) -> Fernet:
    # Read the setting on every call (cheap thanks to the cache) so a key rotation takes effect without a restart.
    return _fernet(settings.SUBSONIC_SECRET_KEY, purpose)


def secret_encrypt(plaintext: str, *, purpose: bytes = APP_PASSWORD_INFO) -> bytes:
    return _current(purpose).encrypt(plaintext.encode("utf-8"))


def secret_decrypt(ciphertext: bytes | memoryview, *, purpose: bytes = APP_PASSWORD_INFO) -> str:
    try:
        return _current(purpose).decrypt(bytes(ciphertext)).decode("utf-8")
    except (InvalidToken, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise SecretUnreadableError("stored secret cannot be decrypted with the current key") from exc
