"""The instance's signing and encryption secrets: from the environment, else from one file in the data dir.

On the first start, every secret the environment does not set is generated with `secrets` and written to
`<data dir>/secrets.json` (mode 0600); later starts read it, so sessions, JWTs and stored app-passwords survive a
restart. A value set in the environment always wins. Nothing here ever falls back to a value written in the
repository: a missing, unreadable or damaged file stops the process with one line naming the file and the fix,
because silently generating new keys would lock every player and every logged-in user out.

Used by `mcma.settings` before Django is configured, so it depends on the standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

SECRET_NAMES = ("SECRET_KEY", "SUBSONIC_SECRET_KEY", "JWT_SIGNING_KEY")
SECRETS_FILE_NAME = "secrets.json"
MIN_LENGTH = 32
MIN_DISTINCT_CHARACTERS = 8
# Values that appear in documentation, examples or earlier versions of this repository.
KNOWN_DEFAULTS = frozenset(
    {
        "changeme",
        "change-me",
        "secret",
        "insecure-dev-secret-key-change-me",
        "insecure-dev-subsonic-key-change-me",
    }
)
GENERATED_BYTES = 48


class SecretsError(SystemExit):
    """Start-up must stop: the message is the one line the operator reads (no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"mcma: {message}")


def weakness(value: str) -> str | None:
    """Why `value` cannot protect an instance, or None when it can."""
    if value.strip().lower() in KNOWN_DEFAULTS:
        return "is a published default"
    if len(value) < MIN_LENGTH:
        return f"is shorter than {MIN_LENGTH} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    return None


def _refuse_weak(name: str, value: str, origin: str) -> None:
    problem = weakness(value)
    if problem is not None:
        raise SecretsError(
            f"{name} {origin} {problem}; set a long random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def _read(path: Path) -> dict[str, str]:
    fix = "restore it from a backup, or delete it to generate new keys (every session, token and app-password is lost)"
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SecretsError(f"cannot read {path}: {exc.strerror}; {fix}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(f"{path} is readable by other users (mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SecretsError(f"cannot read {path}: {exc.strerror}; {fix}") from None
    except (UnicodeDecodeError, ValueError):
        raise SecretsError(f"{path} is damaged (not the JSON mcma wrote); {fix}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in SECRET_NAMES):
        raise SecretsError(f"{path} is incomplete (it must hold {', '.join(SECRET_NAMES)}); {fix}")
    for name in SECRET_NAMES:
        _refuse_weak(name, data[name], f"in {path}")
    return {name: data[name] for name in SECRET_NAMES}


def _create(path: Path) -> None:
    """Write a fresh file without ever replacing one: a process that loses the race reads the winner's."""
    values = {name: secrets.token_urlsafe(GENERATED_BYTES) for name in SECRET_NAMES}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(values, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    except OSError as exc:
        raise SecretsError(
            f"cannot write {path}: {exc.strerror}; make the data dir writable or set MCMA_DATA_DIR"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def load(data_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """Every secret in SECRET_NAMES: the environment's value, else the secrets file's (created when missing)."""
    from_env = {name: environ[name] for name in SECRET_NAMES if environ.get(name)}
    for name, value in from_env.items():
        _refuse_weak(name, value, "in the environment")
    if len(from_env) == len(SECRET_NAMES):
        return from_env
    path = data_dir / SECRETS_FILE_NAME
    if not path.exists() and not path.is_symlink():
        _create(path)
    return {**_read(path), **from_env}
