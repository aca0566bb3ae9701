"""bench scale's pieces: step timings from a run's log, the raw DuckDB query on exported Parquet, the report."""

import datetime as dt

from assets.demo_export import export_demo
from orchestration.bench_scale import STEP_RE, RunMeasure, raw_query_seconds, report


def test_step_timings_are_read_from_dagster_logs():
    log = ('... - raw__events - STEP_SUCCESS - Finished execution of step "raw__events" in 2.5s.\n'
           '... - dbt_digests - STEP_SUCCESS - Finished execution of step "dbt_digests" in 850ms.\n')
    assert STEP_RE.findall(log) == [("raw__events", "2.5", "s"), ("dbt_digests", "850", "ms")]


def test_the_raw_query_digests_the_exported_files(tmp_path):
    exported = export_demo(tmp_path, dt.date(2026, 3, 2), dt.date(2026, 3, 4), scale=0.05, seed=1)
    seconds, groups = raw_query_seconds(tmp_path / "landing", tmp_path / "specs", threads=1)
    assert seconds > 0 and 0 < groups <= exported["events"]


def test_report_gives_the_ratio_and_the_increment_share():
    full = RunMeasure(100.0, 900.0, {"raw__events": 10.0, "dbt_digests": 30.0, "dbt_metrics": 40.0})
    inc = RunMeasure(25.0, 500.0, {"raw__events": 0.5, "dbt_digests": 1.5, "dbt_metrics": 3.0})
    text = report([{"events": 1_000_000, "full": full, "increment": inc, "raw_seconds_1_thread": 20.0,
                    "raw_seconds_all_threads": 10.0}])
    # ingest+digests 40 s: 25,000 events/s, 2.00x the 1-thread query; the increment's 5 s of steps is 6.25%
    # of the full run's 80 s of steps (start-up outside steps excluded on both sides)
    assert "| 1,000,000 | 100.0 | 40.0 | 25,000 | 20.0 / 10.0 | 2.00 / 4.00 | 900 | 25.0 | 6.2 |" in text
