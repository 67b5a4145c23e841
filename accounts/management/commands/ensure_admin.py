"""Create the first admin unless one exists; used by `make run`."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an admin user if none exists (DJANGO_SUPERUSER_USERNAME/PASSWORD, or a generated password)."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        password = password or secrets.token_urlsafe(18)
        user_model.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(f"Created admin user '{username}' with password: {password}")
            self.stdout.write("This password is shown once; change it in the admin or with `manage.py changepassword`.")
        else:
            self.stdout.write(f"Created admin user '{username}'.")
