"""Credentials never reach a log: query parameters that carry them are masked, credential headers dropped.

Subsonic players send their password (`p`, often as `enc:hex`), a replayable token/salt pair (`t`, `s`) or an
API key in the query string, so an access log that prints URLs is a password file. `MaskingLogger` is gunicorn's
logger class for the access log (see `mcma.gunicorn_config`); `CredentialMaskFilter` guards every record that
Django and the app log through the console handler. Both use `mask_credentials`, the one rule.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger

# Compared case-insensitively with the decoded parameter name.
CREDENTIAL_PARAMETERS = frozenset({"p", "t", "s", "apikey", "jwt", "token", "password"})
MASK = "***"
_QUERY_IN_TEXT = re.compile(r"\?([^\s\"'#]*)")
# gunicorn atoms that hold a whole header or environ value which is a credential.
_CREDENTIAL_ATOMS = frozenset(
    {
        "{authorization}i",
        "{proxy-authorization}i",
        "{cookie}i",
        "{x-api-key}i",
        "{set-cookie}o",
        "{http_authorization}e",
        "{http_proxy_authorization}e",
        "{http_cookie}e",
        "{http_x_api_key}e",
    }
)
# Atoms that are a bare query string rather than text that may contain a URL.
_QUERY_ATOMS = frozenset({"q", "{query_string}e"})


def mask_query(query: str) -> str:
    """The query string with the value of every credential parameter replaced by MASK; the rest untouched."""
    parts = []
    for part in query.split("&"):
        name, separator, _value = part.partition("=")
        if separator and unquote_plus(name).strip().lower() in CREDENTIAL_PARAMETERS:
            part = f"{name}={MASK}"
        parts.append(part)
    return "&".join(parts)


def mask_credentials(text: str) -> str:
    """`text` (a request line, a URL, a log message) with the query string of every URL in it masked."""
    if "?" not in text:
        return text
    return _QUERY_IN_TEXT.sub(lambda match: "?" + mask_query(match.group(1)), text)


class MaskingLogger(Logger):
    """gunicorn's logger, with credentials masked in every access-log atom."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if not isinstance(value, str):
                continue
            if key in _CREDENTIAL_ATOMS:
                atoms[key] = "-"
            elif key in _QUERY_ATOMS:
                atoms[key] = mask_query(value)
            else:
                atoms[key] = mask_credentials(value)
        return atoms


class CredentialMaskFilter(logging.Filter):
    """Masks credentials in the formatted message of every record (Django's runserver logs request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_credentials(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
