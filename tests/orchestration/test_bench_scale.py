"""bench scale's pieces: step timings from a run's log, the raw DuckDB query on exported Parquet, the report."""

import datetime as dt
import json
import time

import dagster as dg
import pytest

from assets.demo_export import export_demo

from orchestration.bench_scale import (RUN_ID_RE, RunMeasure, dbt_startup_seconds, raw_copy_seconds,
                                       raw_query_seconds, report, step_seconds, work_seconds)


SLOW_SECONDS = 1.5


def test_step_timings_are_read_from_the_run_event_log(tmp_path):
    # a step's duration holds Dagster's own work around it: an empty step took 0.56 s once on a loaded machine,
    # so the slow one sleeps well beyond that
    @dg.asset
    def slow_step() -> None:
        time.sleep(SLOW_SECONDS)

    @dg.asset(deps=[slow_step])
    def quick_step() -> None:
        pass

    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        result = dg.materialize([slow_step, quick_step], instance=instance)
        printed = f"noise\nrun {result.run_id}: success in 1.0s\n"
        steps = step_seconds(instance, RUN_ID_RE.search(printed).group(1))
    assert set(steps) == {"slow_step", "quick_step"} and steps["slow_step"] >= SLOW_SECONDS > steps["quick_step"]


def test_the_raw_query_digests_the_exported_files(tmp_path):
    exported = export_demo(tmp_path, dt.date(2026, 3, 2), dt.date(2026, 3, 4), scale=0.05, seed=1)
    seconds, groups = raw_query_seconds(tmp_path / "landing", tmp_path / "specs", threads=1)
    assert seconds > 0 and 0 < groups <= exported["events"]
    assert raw_copy_seconds(tmp_path / "landing", tmp_path / "specs", tmp_path / "copy.duckdb") > 0
    assert not (tmp_path / "copy.duckdb").exists()


def test_report_gives_the_ratio_and_the_increment_share():
    full = RunMeasure(100.0, 900.0, {"raw__events": 10.0, "dbt_digests": 30.0, "dbt_metrics": 40.0}, work=8.0,
                      dbt_startup=10.0)
    inc = RunMeasure(25.0, 500.0, {"raw__events": 0.5, "dbt_digests": 1.5, "dbt_metrics": 3.0}, dbt_startup=3.0)
    closing = RunMeasure(30.0, 950.0, {"raw__events": 0.5, "dbt_digests": 1.5, "drift": 5.0}, dbt_startup=3.0)
    text = report([{"events": 1_000_000, "full": full, "increment": inc, "closing": closing,
                    "raw_seconds_1_thread": 2.0, "raw_seconds_all_threads": 1.0, "raw_copy_seconds": 3.0}])
    # ingest+digests steps 40 s, own work 8 s: 125,000 events/s; 20x and 4x the 1-thread query; the
    # increment's 5 s of steps is 6.25% of the full run's 80 s of steps; beyond the one-day run's fixed
    # start-up (20 s outside steps + 3 s of dbt's), 2 s of the full run's 77 s: 2.6%; the day closing a month,
    # beyond its start-up (23 s outside steps + 3 s of dbt's), 4 s of the full run's 74 s: 5.4%; peak of all runs
    assert ("| 1,000,000 | 100.0 | 40.0 | 8.0 | 125,000 | 2.00 / 1.00 | 20.0 / 4.0 | 3.00 | 950 | 25.0 | 6.2 / 2.6 "
            "| 30.0 | 5.4 |") in text
    assert ("+1 day steps (s): dbt_metrics 3.0, dbt_digests 1.5, raw__events 0.5; outside steps 20.0; "
            "dbt start-up inside its steps 3.0") in text
    assert "+1 day closing a month steps (s): drift 5.0, dbt_digests 1.5, raw__events 0.5" in text


def test_figures_are_saved_as_json(tmp_path):
    from orchestration.bench_scale import save

    full = RunMeasure(100.0, 900.0, {"raw__events": 10.0}, work=8.0, dbt_startup=10.0)
    save([{"events": 5, "full": full, "raw_seconds_1_thread": 2.0}], tmp_path / "results.json")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == [{"events": 5, "raw_seconds_1_thread": 2.0, "full": {
        "seconds": 100.0, "peak_mib": 900.0, "steps": {"raw__events": 10.0}, "work": 8.0, "dbt_startup": 10.0,
        "outside_steps": 90.0, "fixed": 100.0}}]


def test_dbt_start_up_is_the_wait_from_step_start_to_the_first_node(tmp_path):
    @dg.asset
    def dbt_digests() -> None:
        time.sleep(0.2)

    instance = dg.DagsterInstance.ephemeral()
    run_id = dg.materialize([dbt_digests], instance=instance).run_id
    started = next(r.timestamp for r in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START))

    def results(invoked: float, first_node: float) -> None:
        def stamp(t):
            return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        timing = [{"name": "compile", "started_at": stamp(first_node), "completed_at": stamp(first_node + 0.1)}]
        folder = tmp_path / "target" / "dbt_digests"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run_results.json").write_text(json.dumps({
            "metadata": {"invocation_started_at": stamp(invoked)},
            "results": [{"timing": timing}, {"timing": [{"started_at": stamp(first_node + 1)}]}]}))

    results(started + 0.5, started + 2.5)
    assert dbt_startup_seconds(instance, run_id, tmp_path / "target") == pytest.approx(2.5, abs=1e-3)
    results(started - 60, started - 59)  # an earlier run's artifacts are not this run's
    assert dbt_startup_seconds(instance, run_id, tmp_path / "target") == 0.0


def test_own_work_is_ingestion_time_plus_dbt_node_times(tmp_path):
    @dg.asset(key=["raw", "events"])
    def events() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"ingest_seconds": 1.5})

    instance = dg.DagsterInstance.ephemeral()
    run_id = dg.materialize([events], instance=instance).run_id
    invocation = tmp_path / "target" / "dbt_digests"
    invocation.mkdir(parents=True)
    (invocation / "run_results.json").write_text(
        '{"elapsed_time": 60.0, "results": [{"execution_time": 1.0}, {"execution_time": 1.25}]}')
    assert work_seconds(instance, run_id, tmp_path / "target") == 3.75


def test_the_last_day_must_close_a_month(tmp_path, capsys):
    from orchestration.cli import main

    assert main(["bench", "scale", "--events", "1000", "--end", "2026-10-30", "--out", str(tmp_path)]) == 2
    assert "--end 2026-10-30 is not a month's last day" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # refused before generating anything
