"""Runs whose process died (SIGKILL, a lost machine) stay 'started' in Dagster and keep their claim on the
`duckdb` pool slot until a daemon's run monitoring notices, which blocks every later run forever when no
daemon runs. Before a run starts, such orphans are marked failed and their slots freed."""

from __future__ import annotations

import dagster as dg
import psutil
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter


def _alive(pid: int | None, started_at: float) -> bool:
    """The process that started the run still exists (and is the same one, not a reused pid)."""
    if pid is None:
        return True  # cannot tell: leave it to run monitoring
    try:
        return psutil.Process(pid).create_time() <= started_at + 1
    except psutil.Error:
        return False


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark runs of this host whose process is gone as failed, free their concurrency slots, return their ids."""
    orphans = []
    live = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING]
    for run in instance.get_runs(filters=RunsFilter(statuses=live)):
        starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
        if not starts or _alive(starts[0].dagster_event.pid, starts[0].timestamp):
            continue
        instance.report_run_failed(run, message="the run's process is gone (killed?); marked failed by budgetlens "
                                                "so its concurrency slot is released")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        orphans.append(run.run_id)
    return orphans
