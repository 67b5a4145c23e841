"""One request slot per external service, shared by every process through a database row.

A caller reserves the next free moment in a short transaction (the row is locked on PostgreSQL; SQLite's
IMMEDIATE transactions serialise writers) and sleeps outside it, so no lock is held while waiting, and N workers
together never call the service more often than once per interval. A service that asked us to back off is
"paused": callers then get SlotUnavailableError at once instead of sleeping, and their tasks retry.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from library.models import ServiceRateSlot


class SlotUnavailableError(Exception):
    """No turn now (the service is paused, or the queue is too long): come back after `retry_after` s."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# A reservation further away than this is not waited for in-process: the task is retried later instead, so a
# worker never sleeps for minutes while it holds a broker message.
LONGEST_WAIT_SECONDS = 30.0


def slot_take(*, service: str, interval: float) -> None:
    """Wait for this process's turn to call `service`; at most one turn per `interval` seconds over all
    processes. Raises SlotUnavailableError while the service is paused or the queue is too long."""
    turn = _reserve(service=service, interval=interval)
    delay = (turn - timezone.now()).total_seconds()
    if delay > 0:
        time.sleep(delay)


def _reserve(*, service: str, interval: float) -> datetime:
    now = timezone.now()
    with transaction.atomic():
        slot, _ = ServiceRateSlot.objects.select_for_update().get_or_create(service=service, defaults={"next_at": now})
        if slot.paused_until is not None and slot.paused_until > now:
            wait = (slot.paused_until - now).total_seconds()
            raise SlotUnavailableError(
                f"{service} is paused for {wait:.0f} s after it asked us to back off", retry_after=wait
            )
        turn = max(now, slot.next_at)
        wait = (turn - now).total_seconds()
        if wait > LONGEST_WAIT_SECONDS:
            raise SlotUnavailableError(f"{service}'s request queue is {wait:.0f} s long", retry_after=wait)
        ServiceRateSlot.objects.filter(pk=slot.pk).update(next_at=turn + timedelta(seconds=interval))
    return turn


def service_pause(*, service: str, seconds: float) -> None:
    """Keep every process away from `service` for `seconds` (it is down or rate-limiting us)."""
    until = timezone.now() + timedelta(seconds=seconds)
    with transaction.atomic():
        slot, created = ServiceRateSlot.objects.select_for_update().get_or_create(
            service=service, defaults={"next_at": timezone.now(), "paused_until": until}
        )
        if not created and (slot.paused_until is None or slot.paused_until < until):
            ServiceRateSlot.objects.filter(pk=slot.pk).update(paused_until=until)


def service_paused_until(*, service: str) -> datetime | None:
    until = ServiceRateSlot.objects.filter(service=service).values_list("paused_until", flat=True).first()
    return until if until is not None and until > timezone.now() else None
