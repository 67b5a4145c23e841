"""The local folder source: music the user already has, under `LOCAL_MEDIA_IMPORT_PATH`."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings

from library.storage import StoreMode
from sources.base import Capability, SourceHealth
from sources.errors import SourceUnavailableError
from sources.folders import storage_overlap


class LocalSource:
    capabilities = frozenset({Capability.IMPORT})
    # Imports of any folder (manage.py import_folder) file their tracks here, configured root or not.
    enabled = True

    def __init__(self, *, name: str, root: str | os.PathLike[str] = "", hardlink: bool | None = None) -> None:
        self.name = name
        self.root = str(root).strip()
        self._hardlink = hardlink

    @property
    def hardlink(self) -> bool:
        """Hard-link into managed storage instead of copying (only ever when on the same filesystem)."""
        return bool(settings.LOCAL_IMPORT_HARDLINK if self._hardlink is None else self._hardlink)

    def import_mode(self) -> StoreMode:
        return "hardlink" if self.hardlink else "copy"

    def _problem(self) -> tuple[str, dict[str, object]] | None:
        if not self.root:
            return "No import folder is configured; set LOCAL_MEDIA_IMPORT_PATH.", {"root": ""}
        path = Path(self.root).expanduser()
        details: dict[str, object] = {"root": str(path)}
        if not path.exists():
            return f"The import folder {path} does not exist.", details
        if not path.is_dir():
            return f"The import folder {path} is not a directory.", details
        if not os.access(path, os.R_OK | os.X_OK):
            return f"The import folder {path} is not readable by the mcma process.", details
        overlap = storage_overlap(path)
        if overlap:
            return overlap, details
        return None

    def health(self) -> SourceHealth:
        problem = self._problem()
        if problem is not None:
            message, details = problem
            return SourceHealth(available=False, message=message, details=details)
        root = self.import_root()
        return SourceHealth(available=True, message=f"Importing from {root}.", details={"root": str(root)})

    def import_root(self) -> Path:
        problem = self._problem()
        if problem is not None:
            message, details = problem
            raise SourceUnavailableError(message, details=details)
        return Path(self.root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalSource(name={self.name!r}, root={self.root!r})"
