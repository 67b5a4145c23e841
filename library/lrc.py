"""The one LRC parser (synced lyrics: `[mm:ss.xx] words`), pure text in, structured lines out; used by the tag
reader, the sidecar reader and every answer that serves lyrics."""

from __future__ import annotations

import re
from dataclasses import dataclass

# [mm:ss], [mm:ss.x], [mm:ss.xx], [mm:ss.xxx] (a colon before the fraction too, as some writers use).
TIMESTAMP = re.compile(r"\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]")
_LEADING_STAMPS = re.compile(rf"^\s*(?P<stamps>(?:{TIMESTAMP.pattern}\s*)+)(?P<words>.*)$")
_OFFSET = re.compile(r"^\s*\[offset:\s*([+-]?\d+)\s*\]\s*$", re.IGNORECASE)
_ID_TAG = re.compile(r"^\s*\[[a-zA-Z#]+:[^\]]*\]\s*$")  # [ti:…], [ar:…], [length:…] headers


@dataclass(frozen=True)
class Line:
    text: str
    start_ms: int | None = None


@dataclass(frozen=True)
class StructuredLyrics:
    synced: bool
    lines: list[Line]
    offset_ms: int = 0
    skipped_lines: int = 0  # lines of an LRC text that were neither a timed line, a header nor blank


def is_synced(text: str) -> bool:
    """Whether `text` carries any LRC time stamp."""
    return TIMESTAMP.search(text) is not None


def lrc_parse(text: str) -> StructuredLyrics:
    """Timed lines in time order; a line with several stamps (`[00:10.00][01:10.00]chorus`) appears once per stamp.
    `[offset:±ms]` is kept as the offset; headers and blank lines are dropped; anything else is skipped and
    counted."""
    lines: list[Line] = []
    offset = 0
    skipped = 0
    for raw in text.splitlines():
        offset_match = _OFFSET.match(raw)
        if offset_match:
            offset = int(offset_match.group(1))
            continue
        timed = _LEADING_STAMPS.match(raw)
        if timed is None:
            if raw.strip() and not _ID_TAG.match(raw):
                skipped += 1
            continue
        words = timed.group("words").strip()
        for stamp in TIMESTAMP.finditer(timed.group("stamps")):
            seconds = int(stamp.group(2))
            if seconds >= 60:
                skipped += 1
                continue
            millis = int((stamp.group(3) or "0").ljust(3, "0")[:3])
            lines.append(Line(words, (int(stamp.group(1)) * 60 + seconds) * 1000 + millis))
    lines.sort(key=lambda line: line.start_ms or 0)
    return StructuredLyrics(synced=True, lines=lines, offset_ms=offset, skipped_lines=skipped)


def plain_parse(text: str) -> StructuredLyrics:
    return StructuredLyrics(synced=False, lines=[Line(line.rstrip()) for line in text.strip().splitlines()])


def plain_text(text: str) -> str:
    """LRC text without its stamps and headers, for players that only show plain lyrics."""
    return "\n".join(line.text for line in lrc_parse(text).lines).strip()
