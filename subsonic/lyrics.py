"""Lyrics text → OpenSubsonic structured lyrics: LRC (`[mm:ss.xx] line`) becomes timed lines, plain text
becomes untimed lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from library.lrc import TIMESTAMP

_OFFSET = re.compile(r"^\[offset:\s*([+-]?\d+)\]\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    text: str
    start_ms: int | None = None


@dataclass(frozen=True)
class StructuredLyrics:
    synced: bool
    lines: list[Line]
    offset_ms: int = 0


def lrc_parse(text: str) -> StructuredLyrics:
    """Timed lines in time order; a line with several stamps appears once per stamp. Tag lines are dropped."""
    lines: list[Line] = []
    offset = 0
    for raw in text.splitlines():
        offset_match = _OFFSET.match(raw.strip())
        if offset_match:
            offset = int(offset_match.group(1))
            continue
        stamps = list(TIMESTAMP.finditer(raw))
        if not stamps:
            continue
        words = raw[stamps[-1].end() :].strip()
        for stamp in stamps:
            fraction = stamp.group(3) or "0"
            millis = int(fraction.ljust(3, "0")[:3])
            start = (int(stamp.group(1)) * 60 + int(stamp.group(2))) * 1000 + millis
            lines.append(Line(words, start))
    lines.sort(key=lambda line: line.start_ms or 0)
    return StructuredLyrics(synced=True, lines=lines, offset_ms=offset)


def plain_parse(text: str) -> StructuredLyrics:
    return StructuredLyrics(synced=False, lines=[Line(line.rstrip()) for line in text.strip().splitlines()])


def plain_text(synced_text: str, plain: str) -> str:
    """The unsynchronised text for the legacy getLyrics: the plain lyrics, else the LRC without stamps."""
    if plain.strip():
        return plain.strip()
    return "\n".join(line.text for line in lrc_parse(synced_text).lines)
