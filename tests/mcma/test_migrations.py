from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db(transaction=True)
def test_every_model_change_has_a_migration() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_migrations_reverse_and_reapply() -> None:
    for app in ("downloads", "sources", "library"):
        call_command("migrate", app, "zero", verbosity=0)
    call_command("migrate", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_the_external_search_switch_migration_reverses() -> None:
    call_command("migrate", "accounts", "0001", verbosity=0)
    call_command("migrate", verbosity=0)
