"""`budgetlens` command line: run the pipeline, open the UI, validate specs, generate demo data."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from assets.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings, SettingsError
from models.spec import SpecError, load_specs

REPORT_TABLES = [
    "raw.events", "raw.quarantine", "raw.documents", "raw.segment_members", "main.fct_digest_hourly",
    "main.fct_digest_daily", "main.fct_digest_weekly", "main.fct_digest_monthly", "main.metric_values",
    "main.fct_segment_rankings", "main.metrics", "main.metric_edges", "main.dim_segments",
    "raw.text_metric_values", "main.segment_archetypes", "main.drift_attributions", "main.level_shifts",
    "main.metric_forecasts",
    "main.goal_tracking", "raw.llm_calls", "main.briefings",
]


def dagster_home(settings: Settings) -> Path:
    """$DAGSTER_HOME, defaulting to <home>/dagster_home with the repo's instance config (pool limit 1)."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copy(PROJECT_ROOT / "orchestration" / "dagster.yaml", config)
    os.environ["DAGSTER_HOME"] = str(home)
    # A run over a range of daily partitions records one planned event per asset instead of one per asset and
    # day (~3,000 fewer event writes before a two-year run starts; Dagster's own switch, off by default because
    # the days of a failed range are then left unmarked rather than marked failed: the run shows the failure).
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    return home


def manifest_lock(settings: Settings, what: str):
    """Two runs starting together must not write dbt's target/manifest.json while the other reads it."""
    from assets.warehouse_lock import exclusive

    (DBT_PROJECT_DIR / "target").mkdir(exist_ok=True)
    return exclusive(DBT_PROJECT_DIR / "target" / ".manifest.lock", what, timeout=settings.lock_timeout_seconds,
                     subject="dbt's manifest")


def prepare_dbt(settings: Settings) -> None:
    """Build dbt's manifest (dagster-dbt reads it when definitions load; never parse at import), unless the
    manifest on disk was parsed from the same inputs (a dbt process start and parse saved, ~5 s a run)."""
    from orchestration.dbt import dbt_executable, manifest_fingerprint

    settings.export()
    started = time.perf_counter()
    target = DBT_PROJECT_DIR / "target"
    with manifest_lock(settings, "dbt parse"):
        fingerprint = manifest_fingerprint(DBT_PROJECT_DIR, os.environ)
        stamp = target / "manifest.fingerprint"
        if (target / "manifest.json").exists() and stamp.exists() and stamp.read_text() == fingerprint:
            print("dbt manifest up to date (project, packages and settings unchanged)")
            return
        stamp.unlink(missing_ok=True)
        result = subprocess.run([dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
                                 "--profiles-dir", str(DBT_PROJECT_DIR)], capture_output=True, text=True)
        if result.returncode == 0:
            stamp.write_text(fingerprint)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"dbt parse failed (exit {result.returncode})")
    print(f"dbt manifest ready ({time.perf_counter() - started:.1f}s)")


def run_pipeline(start: dt.date, end: dt.date, instance=None, settings: Settings | None = None):
    """Materialise the whole graph for days ``start..end`` (inclusive) in one in-process run."""
    import dagster as dg

    from orchestration.jobs import range_tags
    from orchestration.recovery import fail_orphaned_runs

    settings = settings or Settings.from_env()
    with manifest_lock(settings, "loading definitions"):
        from orchestration.definitions import build_definitions  # its import reads the manifest too

        job = build_definitions(settings).resolve_job_def("budgetlens")
    instance = instance or dg.DagsterInstance.get()
    for run_id in fail_orphaned_runs(instance):
        print(f"note: run {run_id} had died without finishing; marked failed and its pool slot released")
    return job.execute_in_process(instance=instance, tags=range_tags(start, end), raise_on_error=True)


def _report(settings: Settings) -> None:
    import duckdb

    from assets.warehouse_lock import hold_warehouse

    with hold_warehouse(settings.duckdb_path, "budgetlens run (report)", timeout=settings.lock_timeout_seconds):
        _print_report(duckdb.connect(str(settings.duckdb_path), read_only=True))


def _print_report(conn) -> None:
    from assets.warehouse import table_exists

    width = max(len(t) for t in REPORT_TABLES)
    for table in REPORT_TABLES:
        schema, name = table.split(".")
        exists = table_exists(conn, schema, name)
        rows = conn.execute(f"select count(*) from {table}").fetchone()[0] if exists else "missing"
        print(f"  {table:<{width}}  {rows:>12,}" if exists else f"  {table:<{width}}  missing")
    for path, writer, reason in conn.execute("select markdown_path, writer, fallback_reason from main.briefings order by 1").fetchall():
        print(f"  briefing: {path} ({writer}{', ' + reason if reason else ''})")
    conn.close()


def cmd_run(args) -> int:
    settings = Settings.from_env()
    start = dt.date.fromisoformat(args.start) if args.start else settings.history_start
    end = dt.date.fromisoformat(args.end) if args.end else settings.history_end
    yesterday = dt.date.today() - dt.timedelta(days=1)
    if end > yesterday:
        print(f"note: end {end} has no partition yet; running through {yesterday}")
        end = yesterday
    if start < settings.history_start or end < start:
        raise SystemExit(f"range {start}..{end} must lie within BUDGETLENS_START_DATE={settings.history_start}..yesterday")
    specs = load_specs(settings.specs_dir)
    print(f"budgetlens: {len(specs)} budget(s) from {settings.specs_dir}; days {start}..{end}; "
          f"DuckDB {settings.duckdb_path}")
    dagster_home(settings)
    prepare_dbt(settings)
    started = time.perf_counter()
    result = run_pipeline(start, end, settings=settings)
    print(f"run {result.run_id}: {'success' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f}s")
    _report(settings)
    return 0 if result.success else 1


def cmd_prepare(args) -> int:
    prepare_dbt(Settings.from_env())
    return 0


def cmd_validate(args) -> int:
    folder = Path(args.folder) if args.folder else Settings.from_env().specs_dir
    specs = load_specs(folder)
    for spec in specs:
        holidays = f", holidays {', '.join(c.label for c in spec.holidays)}" if spec.holidays else ""
        print(f"ok  {spec.id}: {len(spec.metrics)} metrics, levels {' > '.join(spec.segments.levels)}, "
              f"north star {spec.north_star}, source {spec.source.kind}, clock {spec.clock}{holidays}")
    return 0


def cmd_ui(args) -> int:
    settings = Settings.from_env()
    dagster_home(settings)
    prepare_dbt(settings)
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
               "-p", str(args.port)]
    os.chdir(PROJECT_ROOT)
    os.execvp(command[0], command)


def cmd_demo_generate(args) -> int:
    from assets.demo_export import export_demo

    settings = Settings.from_env()
    start = dt.date.fromisoformat(args.start) if args.start else settings.history_start
    end = dt.date.fromisoformat(args.end) if args.end else settings.history_end
    summary = export_demo(Path(args.out), start, end + dt.timedelta(days=1), events=args.events,
                          scale=args.scale, seed=settings.demo_seed)
    print(f"wrote {summary['events']:,} events and {summary['documents']:,} documents in {summary['files']} "
          f"Parquet files to {summary['landing']} "
          f"and {summary['specs_written']} spec(s) to {summary['specs']} in {summary['seconds']:.1f}s "
          f"(scale {summary['scale']:.4g})")
    print(f"run them with: BUDGETLENS_SPECS={summary['specs']} BUDGETLENS_LANDING={summary['landing']} budgetlens run")
    return 0


def cmd_bench_m4(args) -> int:
    from orchestration import bench_m4

    scores = bench_m4.run(args.frequency, Path(args.data), Path(args.out), workers=args.workers,
                          history=args.history)
    print(bench_m4.report(args.frequency, scores))
    print(f"forecasts written to {args.out}")
    return 0


def cmd_bench_intervals(args) -> int:
    from orchestration import bench_intervals

    for history in [int(v) for v in args.history.split(",") if v]:
        print(bench_intervals.report(bench_intervals.run(history, args.series, args.workers, args.horizon)), flush=True)
    return 0


def cmd_bench_drift(args) -> int:
    from orchestration import bench_drift

    settings = Settings.from_env()
    results = bench_drift.run(None if args.skip_demo else settings.duckdb_path, settings.specs_dir,
                              settings.drift_grains, [int(m) for m in args.multipliers.split(",") if m])
    print(bench_drift.report(results))
    return 0


def cmd_bench_months(args) -> int:
    from orchestration import bench_months

    settings = Settings.from_env()
    print(bench_months.report(bench_months.run(settings.duckdb_path, settings.specs_dir)))
    return 0


def cmd_bench_scale(args) -> int:
    from orchestration import bench_scale

    end = dt.date.fromisoformat(args.end)
    if (end + dt.timedelta(days=1)).day != 1:
        print(f"budgetlens bench scale: --end {end} is not a month's last day; the benchmark times the day that "
              "closes a month beside the day before it", file=sys.stderr)
        return 2
    start = end - dt.timedelta(days=args.days - 1)
    out = Path(args.out).resolve()
    results = []
    for n in [int(float(v)) for v in args.events.split(",") if v]:
        results.append(bench_scale.run(n, out, start, end))
        print(bench_scale.report(results[-1:]), flush=True)
        bench_scale.save(results, out / "results.json")
    print("\n" + bench_scale.report(results))
    print(f"figures written to {out / 'results.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="budgetlens", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialise the whole pipeline for a range of days")
    run.add_argument("--start", help="first day (default BUDGETLENS_START_DATE)")
    run.add_argument("--end", help="last day, inclusive (default BUDGETLENS_END_DATE)")
    run.set_defaults(func=cmd_run)
    sub.add_parser("prepare", help="build the dbt manifest").set_defaults(func=cmd_prepare)
    validate = sub.add_parser("validate", help="validate the budget specs")
    validate.add_argument("folder", nargs="?", help="spec folder (default BUDGETLENS_SPECS)")
    validate.set_defaults(func=cmd_validate)
    ui = sub.add_parser("ui", help="open the Dagster UI (dagster dev) with budgetlens' instance config")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    demo = sub.add_parser("demo", help="demo organisation tools")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    gen = demo_sub.add_parser("generate", help="stream demo events to Parquet landing files plus matching specs")
    gen.add_argument("--out", required=True, help="folder for landing/ and specs/")
    size = gen.add_mutually_exclusive_group()
    size.add_argument("--events", type=int, help="target number of events (sets the scale)")
    size.add_argument("--scale", type=float, default=1.0, help="intensity multiplier (default 1)")
    gen.add_argument("--start", help="first day (default BUDGETLENS_START_DATE)")
    gen.add_argument("--end", help="last day, inclusive (default BUDGETLENS_END_DATE)")
    gen.set_defaults(func=cmd_demo_generate)
    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    m4 = bench_sub.add_parser("m4", help="score the forecaster on the M4 competition's Weekly or Hourly series")
    m4.add_argument("--frequency", choices=["weekly", "hourly"], required=True)
    m4.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "bench" / "m4"),
                    help="folder with <Frequency>-train.csv and -test.csv (default ../shared/bench/m4)")
    m4.add_argument("--out", required=True, help="forecasts CSV to write (id, step, yhat, lo95, hi95)")
    m4.add_argument("--history", type=int, default=None,
                    help="forecast from each series' last N points only (short histories, as in the pipeline)")
    m4.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    m4.set_defaults(func=cmd_bench_m4)
    intervals = bench_sub.add_parser("intervals", help="the forecaster on simulated daily series: step-by-step "
                                                         "accuracy and the interval of the horizon's total")
    intervals.add_argument("--history", default="60,90,120", help="comma-separated days of history (default "
                                                                  "60,90,120; the horizon is half)")
    intervals.add_argument("--horizon", type=int, default=None, help="days ahead (default half the history)")
    intervals.add_argument("--series", type=int, default=80, help="series of each kind (default 80)")
    intervals.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    intervals.set_defaults(func=cmd_bench_intervals)
    drift = bench_sub.add_parser("drift", help="time the drift decomposition of every metric x scope x latest period")
    drift.add_argument("--multipliers", default="1,10,100",
                       help="leaf-segment multipliers of the planted shop (default 1,10,100)")
    drift.add_argument("--skip-demo", action="store_true", help="skip the default demo's warehouse")
    drift.set_defaults(func=cmd_bench_drift)
    months = bench_sub.add_parser("months", help="monthly forecasts of each budget's total by rolling origin (last "
                                  "8 months, 1-3 ahead), with and without the calendar (trading days)")
    months.set_defaults(func=cmd_bench_months)
    scale = bench_sub.add_parser("scale", help="the whole pipeline on N demo events from Parquet, beside a raw "
                                                "DuckDB query of the same daily digests")
    scale.add_argument("--events", required=True, help="comma-separated event counts, e.g. 1000000,10000000")
    scale.add_argument("--days", type=int, default=730, help="days of history (default 730: two years)")
    scale.add_argument("--end", default="2026-10-31",
                       help="last day, a month's last: the increment closing a month (the day before it is the "
                            "daily increment inside one; default 2026-10-31)")
    scale.add_argument("--out", required=True, help="work folder (landing files, warehouses)")
    scale.set_defaults(func=cmd_bench_scale)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SpecError, SettingsError, FileNotFoundError) as err:
        print(f"budgetlens: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
