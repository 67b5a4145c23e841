"""LRC, the synchronised lyrics text format (`[mm:ss.xx] line`): the one definition of its time stamps."""

from __future__ import annotations

import re

# [mm:ss], [mm:ss.x], [mm:ss.xx], [mm:ss.xxx] (a colon before the fraction too, as some writers use).
TIMESTAMP = re.compile(r"\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]")
_HEADER = re.compile(r"\s*\[[a-zA-Z]+:[^\]]*\]\s*")  # [ti:...], [ar:...], [offset:...]


def is_synced(text: str) -> bool:
    """Whether `text` carries any LRC time stamp."""
    return TIMESTAMP.search(text) is not None


def plain_text(lrc: str) -> str:
    """The lyrics of `lrc` without time stamps and header lines."""
    lines = [TIMESTAMP.sub("", line).strip() for line in lrc.splitlines() if not _HEADER.fullmatch(line)]
    return "\n".join(lines).strip()
