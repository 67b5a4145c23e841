"""Import a folder synchronously: `python manage.py import_folder PATH`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from mcma.errors import ApplicationError
from sources import services
from sources.models import ScanState
from sources.scan.report import ScanReport


class Command(BaseCommand):
    help = (
        "Import the music under PATH into the library now, with a progress bar and a summary. Exits 0 when the "
        "import ran to the end (unreadable files are listed), 1 when it could not run, 2 with --strict when a "
        "file failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="Folder to import (tracks are keyed by their path within it).")
        parser.add_argument("--source", default="local", help="Source name to file the tracks under.")
        missing = parser.add_mutually_exclusive_group()
        missing.add_argument(
            "--mark-missing",
            dest="mark_missing",
            action="store_true",
            default=None,
            help="Mark tracks of the source whose file is gone from PATH as missing "
            "(default: only when PATH is LOCAL_MEDIA_IMPORT_PATH).",
        )
        missing.add_argument("--no-mark-missing", dest="mark_missing", action="store_false")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (e.g. in logs).")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Exit with status 2 when any file could not be imported (default: 0 once the import ran to the end).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Straight to the underlying stream: OutputWrapper.write would end each of tqdm's "\r" redraws with "\n".
        stream = cast(TextIO, self.stderr._out)
        bar = tqdm(unit=" files", desc="Importing", disable=options["no_progress"], file=stream)

        def on_file(report: ScanReport) -> None:
            bar.total = max(report.found, bar.n + 1)
            bar.update(1)
            bar.set_postfix(added=report.added, failed=report.failed, refresh=False)

        try:
            scan = services.scan_import_folder(
                root=options["path"],
                source_name=options["source"],
                mark_missing=options["mark_missing"],
                on_file=on_file,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        finally:
            bar.close()
        for problem in scan.errors[:20]:
            self.stderr.write(f"  {problem.get('kind', '')}: {problem.get('path', '')}: {problem.get('error', '')}")
        if len(scan.errors) > 20:
            self.stderr.write(f"  … {len(scan.errors) - 20} more in scan #{scan.pk} (admin: Scan runs)")
        if scan.state != ScanState.SUCCEEDED:
            raise CommandError(f"Import failed: {scan.message}")
        self.stdout.write(self.style.SUCCESS(scan.message))
        if scan.failed:
            message = f"{scan.failed} files could not be imported (listed above)."
            if options["strict"]:
                raise CommandError(message, returncode=2)
            self.stderr.write(message)
