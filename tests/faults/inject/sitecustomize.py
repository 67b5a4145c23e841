"""Fault injection for the processes a fault test starts (on their PYTHONPATH, never imported by mcma itself).

`MCMA_FAULT=<module>:<name>:<action>` wraps that attribute when the Celery worker starts, so a test can
break a real process at an exact point of real code:
- `pause`: touch `MCMA_FAULT_MARKER`, then sleep until killed (the test SIGKILLs the process there);
- `enospc-after-<n>`: the first n calls go through, every later one raises OSError(ENOSPC), as a full disk would.
"""

from __future__ import annotations

import errno
import functools
import importlib
import itertools
import os
import time
from typing import Any


def _install() -> None:
    spec = os.environ.get("MCMA_FAULT", "")
    if not spec:
        return
    import django

    django.setup()  # idempotent; the worker's own setup may not have run yet
    module_name, attribute, action = spec.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)
    marker = os.environ.get("MCMA_FAULT_MARKER", "")
    calls = itertools.count(1)

    @functools.wraps(original)
    def faulty(*args: Any, **kwargs: Any) -> Any:
        if action == "pause":
            if marker:
                with open(marker, "w") as file:
                    file.write(str(os.getpid()))
            while True:
                time.sleep(1)
        if action.startswith("enospc-after-") and next(calls) > int(action.removeprefix("enospc-after-")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(*args, **kwargs)

    setattr(module, attribute, faulty)


def _after_django_setup() -> None:
    try:
        from celery.signals import worker_init
    except ImportError:
        return
    worker_init.connect(lambda **_kwargs: _install(), weak=False)


_after_django_setup()
