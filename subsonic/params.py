"""Typed, read-only access to a request's parameters: query string and form body merged (OpenSubsonic formPost).

A missing required value is error 10, a malformed one error 0; views never parse strings themselves. Every value
read goes through `_values`, which refuses control characters (error 10, naming the parameter).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict

from subsonic.errors import ControlCharacterError, ErrorCode, SubsonicError, invalid_parameter, missing_parameter

_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})
# Keeps a hostile `id=1&id=2&…` list from turning one request into a huge query.
MAX_VALUES = 5000
MAX_FIELDS = 50_000  # parsing is cheap; `values()` enforces the per-parameter limit
# C0 controls except tab, LF and CR, which a comment or a description may hold. NUL is the one that matters most:
# PostgreSQL refuses it in text, and every other store or file name would keep it as a trap.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class Params:
    def __init__(self, data: MultiValueDict[str, str]) -> None:
        self._data = data

    @classmethod
    def from_request(cls, request: HttpRequest) -> Params:
        """Query string and form body together; a key may appear in either or both (old DSub builds POST with
        every parameter in the query string). Parsed here rather than by Django's QueryDict, whose 1,000-field
        limit would reject a long play queue or playlist sent as repeated `id`s."""
        merged: MultiValueDict[str, str] = MultiValueDict()
        try:
            sources = [_wsgi_text(str(request.META.get("QUERY_STRING", "")))]
            if request.method == "POST":
                if request.content_type == "application/x-www-form-urlencoded":
                    sources.append(request.body.decode("utf-8", errors="replace"))
                elif request.content_type == "multipart/form-data":
                    for key in request.POST:
                        for value in request.POST.getlist(key):
                            merged.appendlist(key, value)
            for source in sources:
                for key, value in parse_qsl(source, keep_blank_values=True, max_num_fields=MAX_FIELDS):
                    merged.appendlist(key, value)
        except (ValueError, RequestDataTooBig, TooManyFieldsSent) as exc:
            raise SubsonicError(ErrorCode.GENERIC, f"Request parameters could not be read: {exc}") from exc
        return cls(merged)

    def __contains__(self, name: str) -> bool:
        return bool(self._data.getlist(name))

    def _values(self, name: str) -> list[str]:
        """Every value of `name`; the one place values leave this object, so the one place they are checked."""
        values = self._data.getlist(name)
        if any(_CONTROL_CHARACTERS.search(value) for value in values):
            raise ControlCharacterError(name)
        return values

    def text(self, name: str, default: str | None = None) -> str | None:
        values = self._values(name)
        return values[0] if values else default

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None or value == "":
            raise missing_parameter(name)
        return value

    def values(self, name: str) -> list[str]:
        values = [value for value in self._values(name) if value != ""]
        if len(values) > MAX_VALUES:
            raise invalid_parameter(name, f"at most {MAX_VALUES} values are accepted")
        return values

    def integer(self, name: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        return _parse_int(name, raw, minimum)

    def int_or(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.integer(name, default, minimum=minimum)
        assert value is not None
        return min(value, maximum) if maximum is not None else value

    def int_required(self, name: str, *, minimum: int | None = None) -> int:
        return _parse_int(name, self.required(name), minimum)

    def number(self, name: str, default: float) -> float:
        """A finite decimal number (`playbackRate=1.5`)."""
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw.strip())
        except ValueError as exc:
            raise invalid_parameter(name, "expected a number") from exc
        if not math.isfinite(value):
            raise invalid_parameter(name, "expected a finite number")
        return value

    def choice(self, name: str, allowed: Sequence[str]) -> str:
        """A required value from a fixed list (the list is named in the error)."""
        value = self.required(name)
        if value not in allowed:
            raise invalid_parameter(name, f"expected one of {', '.join(allowed)}")
        return value

    def integers(self, name: str, *, minimum: int | None = None) -> list[int]:
        return [_parse_int(name, raw, minimum) for raw in self.values(name)]

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise invalid_parameter(name, "expected true or false")

    def flag_or_none(self, name: str) -> bool | None:
        return self.flag(name, False) if name in self else None

    def datetime_ms(self, name: str) -> datetime | None:
        """A time given as milliseconds since the epoch (how Subsonic passes every time)."""
        raw = self.text(name)
        return _parse_ms(name, raw) if raw else None

    def datetimes_ms(self, name: str) -> list[datetime]:
        return [_parse_ms(name, raw) for raw in self.values(name)]


def _parse_ms(name: str, raw: str) -> datetime:
    value = _parse_int(name, raw, 0)
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise invalid_parameter(name, "time out of range") from exc


def _wsgi_text(raw: str) -> str:
    """WSGI hands over the query string as latin-1 decoded bytes (PEP 3333); restore the UTF-8 text."""
    try:
        return raw.encode("iso-8859-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return raw


def _parse_int(name: str, raw: str, minimum: int | None) -> int:
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise invalid_parameter(name, "expected an integer") from exc
    if abs(value) > 2**62:
        raise invalid_parameter(name, "out of range")
    if minimum is not None and value < minimum:
        raise invalid_parameter(name, f"must be at least {minimum}")
    return value
