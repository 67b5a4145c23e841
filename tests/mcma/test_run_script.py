"""scripts/run.sh (`make run`): how the web server and the two workers it starts (the default queue's and the
scans') are stopped.

The real gunicorn and celery are replaced by stand-ins on PATH that log every signal they get and stop a moment
after the first one, as both do when they shut down gracefully.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

RUN_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"

STAND_IN = f"""#!{sys.executable}
import os, signal, sys, time
name, log = os.path.basename(sys.argv[0]), os.environ["SIGNAL_LOG"]
stop_at = None

def on_signal(number, frame):
    global stop_at
    with open(log, "a") as out:
        out.write(f"{{name}} {{signal.Signals(number).name}}\\n")
    stop_at = stop_at or time.monotonic() + 0.3

signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
with open(log, "a") as out:
    out.write(f"{{name}} started\\n")
if os.environ.get("EXIT_AT_ONCE") == name:
    # Exit once all have started: a TERM that reached another before its handler was set would go unlogged.
    deadline = time.monotonic() + 10
    while open(log).read().count("started") < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    sys.exit(3)
while stop_at is None or time.monotonic() < stop_at:
    time.sleep(0.02)
"""

PROCESSES = 3  # gunicorn, and celery twice
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script")


def start(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("celery", "gunicorn"):
        (bin_dir / name).write_text(STAND_IN)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "signals.log"
    log.touch()
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SIGNAL_LOG": str(log),
        "LOCAL_MEDIA_IMPORT_PATH": "",
        **env,
    }
    # A session of its own, as a terminal gives `make run`: Ctrl-C signals the whole process group.
    script = subprocess.Popen(
        ["bash", str(RUN_SCRIPT)], env=environment, start_new_session=True, stdout=subprocess.DEVNULL
    )
    wait_for(lambda: log.read_text().count("started") == PROCESSES)
    return script, log


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def signals(log: Path) -> list[str]:
    return sorted(line for line in log.read_text().splitlines() if not line.endswith("started"))


def test_ctrl_c_stops_all_with_the_one_signal_they_got(tmp_path: Path) -> None:
    script, log = start(tmp_path)

    os.killpg(script.pid, signal.SIGINT)

    assert script.wait(timeout=10) != 0
    # No TERM on top of the INT: gunicorn's worker hung on that until its 30 s graceful timeout.
    assert signals(log) == ["celery SIGINT", "celery SIGINT", "gunicorn SIGINT"]


def test_term_to_the_script_is_passed_on_to_all(tmp_path: Path) -> None:
    script, log = start(tmp_path)

    script.terminate()

    script.wait(timeout=10)
    assert signals(log) == ["celery SIGTERM", "celery SIGTERM", "gunicorn SIGTERM"]


def test_when_one_exits_the_others_are_stopped(tmp_path: Path) -> None:
    script, log = start(tmp_path, EXIT_AT_ONCE="gunicorn")

    assert script.wait(timeout=10) != 0
    assert signals(log) == ["celery SIGTERM", "celery SIGTERM"]
