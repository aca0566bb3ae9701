"""One run at a time on the warehouse: cross-process locks beside the DuckDB file (and dbt's manifest).

DuckDB lets one process write a file; a second run (a schedule firing during a backfill, two people typing
``budgetlens run``) would otherwise fail on DuckDB's own lock halfway through. The run lock makes the second
run wait its turn instead, and says whom it waits for. The kernel releases a ``flock`` when its holder dies,
so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusy(TimeoutError):
    """A lock stayed held by another process for longer than the wait allowed."""


def lock_path(database: str | Path) -> Path:
    return Path(f"{database}.run.lock")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"{info.get('what', 'a run')} (pid {info.get('pid', '?')}, since {info.get('since', '?')})"


def hold_warehouse(database: str | Path, what: str, *, timeout: float,
                   log: Callable[[str], None] = print) -> contextlib.AbstractContextManager[None]:
    """Hold the run lock of DuckDB file ``database`` (``<database>.run.lock``); see :func:`exclusive`."""
    return exclusive(lock_path(database), what, timeout=timeout, log=log, subject=f"warehouse {database}")


@contextmanager
def exclusive(path: Path, what: str, *, timeout: float, log: Callable[[str], None] = print,
              subject: str | None = None, poll: float = 0.5) -> Iterator[None]:
    """Hold the lock file ``path`` for the ``with`` block, waiting up to ``timeout`` seconds for it.

    Parameters
    ----------
    path : pathlib.Path
        The lock file (created if missing; it records who holds it).
    what : str
        Who holds it (shown to anyone waiting), e.g. ``"dagster run 1a2b"``.
    timeout : float
        Seconds to wait before raising :class:`WarehouseBusy`.
    log : callable
        Receives a line when the wait starts and every minute while it lasts.
    subject : str, optional
        What the lock guards, for those lines (default: the lock file).
    """
    subject = subject or str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in finally
    try:
        started, said_at = time.monotonic(), None
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now - started > timeout:
                    raise WarehouseBusy(f"{subject} stayed busy with {_holder(path)} for "
                                        f"{now - started:.0f}s (BUDGETLENS_LOCK_TIMEOUT={timeout:.0f})") from None
                if said_at is None or now - said_at >= 60:
                    log(f"{subject} is busy with {_holder(path)}; waiting (up to {timeout:.0f}s)")
                    said_at = now
                time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"what": what, "pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the flock
