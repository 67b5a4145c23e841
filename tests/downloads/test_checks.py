"""The start-up check names an unusable download source and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from downloads.checks import download_sources_check


def _youtube(settings: Any, **options: object) -> None:
    settings.MCMA_SOURCES = {
        **settings.MCMA_SOURCES,
        "youtube": {"BACKEND": "sources.backends.youtube.YouTubeMusicSource", "OPTIONS": options},
    }


def test_world_readable_cookies_are_reported_with_the_fix(settings: Any, tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    cookies.chmod(0o644)
    _youtube(settings, enabled=True, cookies_file=str(cookies))

    messages = download_sources_check()

    assert [m.id for m in messages] == ["downloads.W001"]
    assert f"chmod 600 {cookies}" in messages[0].msg


def test_disabled_or_healthy_sources_are_quiet(settings: Any, tmp_path: Path) -> None:
    _youtube(settings, enabled=False, cookies_file=str(tmp_path / "missing.txt"))
    assert download_sources_check() == []

    _youtube(settings, enabled=True, cookies_file="")
    assert download_sources_check() == []
