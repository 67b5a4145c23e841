"""Print (or rotate) a user's Subsonic app-password, for headless set-ups."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts import selectors, services
from mcma.errors import ApplicationError


class Command(BaseCommand):
    help = "Print USERNAME's Subsonic app-password (generated on first use); --rotate replaces it first."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Generate a new app-password; the old one stops.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = selectors.user_get_by_username(username=options["username"])
            if options["rotate"]:
                password = services.subsonic_password_rotate(user=user)
            else:
                password = services.subsonic_password_reveal(user=user)
        except ApplicationError as exc:
            hint = " Run again with --rotate." if exc.code == "subsonic_password_unavailable" else ""
            raise CommandError(exc.message + hint) from exc
        self.stdout.write(password)
