"""Queue a scan of the configured local folder: `python manage.py scan` (a worker runs it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mcma.errors import ApplicationError
from sources import services


class Command(BaseCommand):
    help = "Queue a scan of a source's folder (default: local, LOCAL_MEDIA_IMPORT_PATH); a Celery worker runs it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", default="local")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scan = services.scan_enqueue(source_name=options["source"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"Scan #{scan.pk} of {scan.root} queued."))
