"""``budgetlens bench scale``: the whole pipeline on N demo events from Parquet landing files, side by side
with one hand-written DuckDB query computing the same daily digests from the same files (the engine's limit).

Each pipeline run is its own process (what a scheduler would start); its peak memory is the largest resident
set of its whole process tree (the run and its dbt subprocesses), sampled every 0.1 s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psutil

from assets.demo_export import export_demo
from assets.warehouse import quote_ident, quote_literal
from models.spec import load_specs

RUN_ID_RE = re.compile(r"^run ([0-9a-f-]{36}): success", re.MULTILINE)
INGEST_AND_DIGESTS = ("raw__events", "dbt_digests")
DBT_STEPS = ("dbt_digests", "dbt_metrics")


@dataclass
class RunMeasure:
    seconds: float
    peak_mib: float
    steps: dict[str, float] = field(default_factory=dict)
    work: float = float("nan")  # ingestion's and dbt's own seconds inside the ingest+digests steps
    dbt_startup: float = 0.0  # seconds the dbt steps spent before dbt's first node

    @property
    def ingest_and_digests(self) -> float:
        return sum(self.steps.get(s, 0.0) for s in INGEST_AND_DIGESTS)

    @property
    def outside_steps(self) -> float:
        """Start-up and wiring outside any step (imports, dbt manifest checks, the run's own bookkeeping)."""
        return max(0.0, self.seconds - sum(self.steps.values()))

    @property
    def fixed(self) -> float:
        """Start-up outside the work: outside the steps, plus each dbt step's wait for dbt's first node (its
        process start and project parsing). For a one-day run this is the fixed start-up cost any run pays;
        a long backfill's outside-steps time also holds Dagster planning every partition."""
        return self.outside_steps + self.dbt_startup


def step_seconds(instance, run_id: str) -> dict[str, float]:
    """Seconds of every step of a finished run, from the instance's event log (not from its printed log,
    where dbt's and Dagster's output can interleave)."""
    import dagster as dg

    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
    return {r.step_key: r.dagster_event.event_specific_data.duration_ms / 1000 for r in records}


def work_seconds(instance, run_id: str, dbt_target: Path) -> float:
    """Seconds the ingestion and the dbt digests spent on their own work inside their steps: ingestion's
    measured time (materialisation metadata ``ingest_seconds``) plus the execution times of the digest models
    and their tests (``$BUDGETLENS_HOME/dbt/dbt_digests/run_results.json``, the step's latest run). The rest
    of those steps is dbt's start-up and Dagster recording one event per asset and partition."""
    import dagster as dg

    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ingest = next(r.asset_materialization.metadata["ingest_seconds"].value for r in records
                  if r.dagster_event.asset_key == dg.AssetKey(["raw", "events"]))
    # the nodes' own execution times (dbt's wall time also holds its waits while Dagster records events);
    # the step's artifacts folder holds its latest run, so this is read right after the run
    results = dbt_target / "dbt_digests" / "run_results.json"
    nodes = json.loads(results.read_text(encoding="utf-8"))["results"] if results.exists() else None
    dbt = sum(node["execution_time"] for node in nodes) if nodes is not None else float("nan")
    return float(ingest) + float(dbt)


def _utc_seconds(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def dbt_startup_seconds(instance, run_id: str, dbt_target: Path) -> float:
    """Seconds each dbt step of a run spent before dbt started its first node: dagster-dbt's preparation,
    dbt's process start and its parsing of the project (``$BUDGETLENS_HOME/dbt/<step>/run_results.json``, the
    step's latest invocation, checked to belong to this run)."""
    import dagster as dg

    starts = {r.step_key: r.timestamp for r in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)}
    total = 0.0
    for step in DBT_STEPS:
        results = dbt_target / step / "run_results.json"
        if step not in starts or not results.exists():
            continue
        invocation = json.loads(results.read_text(encoding="utf-8"))
        if _utc_seconds(invocation["metadata"]["invocation_started_at"]) < starts[step]:
            continue  # an earlier run's artifacts: this run's dbt step never got to write its own
        first = min((_utc_seconds(t["started_at"]) for node in invocation["results"] for t in node["timing"]),
                    default=None)
        if first is not None:
            total += max(0.0, first - starts[step])
    return total


def _measured(cmd: list[str], env: dict) -> tuple[RunMeasure, str]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0], threading.Event()

    def sample():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            done.wait(0.1)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    output = proc.communicate()[0]
    done.set()
    watcher.join()
    seconds = time.perf_counter() - started
    run_id = RUN_ID_RE.search(output)
    if proc.returncode != 0 or run_id is None:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    import dagster as dg

    run, target = run_id.group(1), Path(env["BUDGETLENS_HOME"]) / "dbt"
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]  # the home's dagster.yaml finds its event log through it
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return RunMeasure(seconds, peak[0] / 2 ** 20, step_seconds(instance, run), work_seconds(instance, run, target),
                          dbt_startup_seconds(instance, run, target)), output


def raw_query_seconds(landing: Path, specs_dir: Path, threads: int) -> tuple[float, int]:
    """The same daily digests (count, sum, mean, min, max, variance per budget, measure, leaf segment and day)
    straight from the Parquet files with one DuckDB query per budget."""
    conn = duckdb.connect()
    conn.execute(f"set threads = {threads}")
    conn.execute("set TimeZone = 'UTC'")
    started, groups = time.perf_counter(), 0
    for spec in load_specs(specs_dir):
        levels = ", ".join(quote_ident(level) for level in spec.segments.levels)
        files = quote_literal(str(landing / spec.source.pattern))
        groups += conn.execute(f"""
            select count(*) from (
                select measure, {levels}, cast("timestamp" as date) as day, count(*) as n, sum(value) as s,
                       avg(value) as mean, min(value) as lo, max(value) as hi, var_samp(value) as var
                from read_parquet({files}) group by all)""").fetchone()[0]
    return time.perf_counter() - started, groups


def raw_copy_seconds(landing: Path, specs_dir: Path, database: Path) -> float:
    """The engine's floor for keeping the rows: the Parquet files copied as they are into a new DuckDB file
    (what loading ``raw.events`` costs before any check), with all threads."""
    database.unlink(missing_ok=True)
    conn = duckdb.connect(str(database))
    conn.execute("set enable_progress_bar = false")
    started = time.perf_counter()
    for spec in load_specs(specs_dir):
        files = quote_literal(str(landing / spec.source.pattern))
        conn.execute(f"create table {quote_ident(spec.id)} as select * from read_parquet({files})")
    conn.execute("checkpoint")
    seconds = time.perf_counter() - started
    conn.close()
    database.unlink()
    return seconds


def run(events: int, out: Path, start: dt.date, end: dt.date, seed: int = 20250101) -> dict:
    """Generate ``events`` over ``start``..``end`` (inclusive; ``end`` a month's last day), run the pipeline on
    all but the last two days, then the day before the last alone (a daily increment inside a month), then
    the last day alone (the increment that closes a month: the drift of the new month is computed), and time
    the raw query. Returns every figure."""
    data, home = out / f"events-{events}", out / f"home-{events}"
    exported = export_demo(data, start, end + dt.timedelta(days=1), events=events, seed=seed)
    env = dict(os.environ, BUDGETLENS_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"),
               BUDGETLENS_SPECS=exported["specs"],
               BUDGETLENS_LANDING=exported["landing"], BUDGETLENS_START_DATE=start.isoformat(),
               BUDGETLENS_END_DATE=end.isoformat())
    env.pop("ANTHROPIC_API_KEY", None)  # the benchmark measures the pipeline, not an API
    cli = [str(Path(sys.executable).parent / "budgetlens"), "run"]
    before = end - dt.timedelta(days=1)
    full, _ = _measured(cli + ["--start", start.isoformat(), "--end", (before - dt.timedelta(days=1)).isoformat()],
                        env)
    increment, _ = _measured(cli + ["--start", before.isoformat(), "--end", before.isoformat()], env)
    closing, _ = _measured(cli + ["--start", end.isoformat(), "--end", end.isoformat()], env)
    raw1, groups = raw_query_seconds(Path(exported["landing"]), Path(exported["specs"]), threads=1)
    raw2, _ = raw_query_seconds(Path(exported["landing"]), Path(exported["specs"]), threads=os.cpu_count() or 1)
    copy = raw_copy_seconds(Path(exported["landing"]), Path(exported["specs"]), out / "copy-floor.duckdb")
    return {"raw_copy_seconds": copy, "events": exported["events"], "days": (end - start).days + 1,
            "generate_seconds": exported["seconds"], "full": full, "increment": increment, "closing": closing,
            "raw_seconds_1_thread": raw1, "raw_seconds_all_threads": raw2, "raw_groups": groups}


def save(results: list[dict], path: Path) -> None:
    """Every figure of every run as JSON (the report is a view of it)."""
    def plain(value):
        if isinstance(value, RunMeasure):
            return {**dataclasses.asdict(value), "outside_steps": value.outside_steps, "fixed": value.fixed}
        return value
    path.write_text(json.dumps([{k: plain(v) for k, v in r.items()} for r in results], indent=2), encoding="utf-8")


def _share(inc: float, full: float) -> float:
    return 100 * max(0.0, inc) / max(full, 1e-9)


def _beyond_fixed(inc: RunMeasure, full: RunMeasure) -> float:
    """The one-day run's start-up (outside its steps and dbt's) left out of both: every run pays it once."""
    return _share(inc.seconds - inc.fixed, full.seconds - inc.fixed)


def report(results: list[dict]) -> str:
    lines = ["| events | full run s | ingest+digests steps s | of which own work s | events/s (own work) "
             "| raw query s (1 thread / all) | ratio to raw, steps / own work (1 thread) | plain copy s "
             "| peak MiB | +1 day s | +1 day, % of full: steps only / beyond fixed start-up "
             "| +1 day closing a month s | closing day, % of full beyond fixed start-up |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        full, inc, closing = r["full"], r["increment"], r["closing"]
        steps, work, raw = full.ingest_and_digests, full.work, r["raw_seconds_1_thread"]
        # steps only: each run's time outside its steps left out
        steps_only = _share(inc.seconds - inc.outside_steps, full.seconds - full.outside_steps)
        lines.append(f"| {r['events']:,} | {full.seconds:.1f} | {steps:.1f} | {work:.1f} "
                     f"| {r['events'] / max(work, 1e-9):,.0f} | {raw:.2f} / {r['raw_seconds_all_threads']:.2f} "
                     f"| {steps / raw:.1f} / {work / raw:.1f} | {r.get('raw_copy_seconds', float('nan')):.2f} "
                     f"| {max(full.peak_mib, inc.peak_mib, closing.peak_mib):,.0f} "
                     f"| {inc.seconds:.1f} | {steps_only:.1f} / {_beyond_fixed(inc, full):.1f} "
                     f"| {closing.seconds:.1f} | {_beyond_fixed(closing, full):.1f} |")
    lines.append("")
    for r in results:
        for label, measure in (("full run", r["full"]), ("+1 day", r["increment"]),
                               ("+1 day closing a month", r["closing"])):
            steps = ", ".join(f"{k} {v:.1f}" for k, v in sorted(measure.steps.items(), key=lambda kv: -kv[1]))
            lines.append(f"- {r['events']:,} events, {label} steps (s): {steps}; outside steps "
                         f"{measure.outside_steps:.1f}; dbt start-up inside its steps {measure.dbt_startup:.1f}")
    return "\n".join(lines)
