"""The rule every folder import obeys, whichever source or command names the folder."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def storage_overlap(folder: Path) -> str:
    """Why `folder` cannot be imported because it is, holds or sits inside managed storage ("" if it can)."""
    media = Path(settings.MEDIA_ROOT).resolve()
    resolved = folder.expanduser().resolve()
    if resolved == media or media in resolved.parents or resolved in media.parents:
        # Importing would walk the files the import itself writes.
        return f"The import folder {resolved} overlaps the library storage {media}; choose another folder."
    return ""
