"""``budgetlens bench scale``: the whole pipeline on N demo events from Parquet landing files, side by side
with one hand-written DuckDB query computing the same daily digests from the same files (the engine's limit).

Each pipeline run is its own process (what a scheduler would start); its peak memory is the largest resident
set of its whole process tree (the run and its dbt subprocesses), sampled every 0.1 s.
"""

from __future__ import annotations

import datetime as dt
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
from models.spec import load_specs

STEP_RE = re.compile(r'Finished execution of step "([^"]+)" in ([0-9.]+)(ms|s)')
INGEST_AND_DIGESTS = ("raw__events", "dbt_digests")


@dataclass
class RunMeasure:
    seconds: float
    peak_mib: float
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def ingest_and_digests(self) -> float:
        return sum(self.steps.get(s, 0.0) for s in INGEST_AND_DIGESTS)

    @property
    def fixed(self) -> float:
        """Start-up and wiring outside any step (imports, dbt manifest checks, the run's own bookkeeping)."""
        return max(0.0, self.seconds - sum(self.steps.values()))


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
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    steps: dict[str, float] = {}
    for name, value, unit in STEP_RE.findall(output):
        steps[name] = steps.get(name, 0.0) + float(value) / (1000 if unit == "ms" else 1)
    return RunMeasure(seconds, peak[0] / 2 ** 20, steps), output


def raw_query_seconds(landing: Path, specs_dir: Path, threads: int) -> tuple[float, int]:
    """The same daily digests (count, sum, mean, min, max, variance per budget, measure, leaf segment and day)
    straight from the Parquet files with one DuckDB query per budget."""
    conn = duckdb.connect()
    conn.execute(f"set threads = {threads}")
    conn.execute("set TimeZone = 'UTC'")
    started, groups = time.perf_counter(), 0
    for spec in load_specs(specs_dir):
        levels = ", ".join(f'"{lvl}"' for lvl in spec.segments.levels)
        files = str(landing / spec.source.pattern).replace("'", "''")
        groups += conn.execute(f"""
            select count(*) from (
                select measure, {levels}, cast("timestamp" as date) as day, count(*) as n, sum(value) as s,
                       avg(value) as mean, min(value) as lo, max(value) as hi, var_samp(value) as var
                from read_parquet('{files}') group by all)""").fetchone()[0]
    return time.perf_counter() - started, groups


def run(events: int, out: Path, start: dt.date, end: dt.date, seed: int = 20250101) -> dict:
    """Generate ``events`` over ``start``..``end`` (inclusive), run the pipeline on all but the last day, then the
    last day alone (the daily increment), and time the raw query. Returns every figure."""
    data, home = out / f"events-{events}", out / f"home-{events}"
    exported = export_demo(data, start, end + dt.timedelta(days=1), events=events, seed=seed)
    env = dict(os.environ, BUDGETLENS_HOME=str(home), BUDGETLENS_SPECS=exported["specs"],
               BUDGETLENS_LANDING=exported["landing"], BUDGETLENS_START_DATE=start.isoformat(),
               BUDGETLENS_END_DATE=end.isoformat())
    env.pop("ANTHROPIC_API_KEY", None)  # the benchmark measures the pipeline, not an API
    cli = [str(Path(sys.executable).parent / "budgetlens"), "run"]
    full, _ = _measured(cli + ["--start", start.isoformat(), "--end", (end - dt.timedelta(days=1)).isoformat()], env)
    increment, _ = _measured(cli + ["--start", end.isoformat(), "--end", end.isoformat()], env)
    raw1, groups = raw_query_seconds(Path(exported["landing"]), Path(exported["specs"]), threads=1)
    raw2, _ = raw_query_seconds(Path(exported["landing"]), Path(exported["specs"]), threads=os.cpu_count() or 1)
    return {"events": exported["events"], "days": (end - start).days + 1, "generate_seconds": exported["seconds"],
            "full": full, "increment": increment, "raw_seconds_1_thread": raw1,
            "raw_seconds_all_threads": raw2, "raw_groups": groups}


def report(results: list[dict]) -> str:
    lines = ["| events | full run s | ingest+digests s | events/s (ingest+digests) | raw query s (1 thread / all) "
             "| ratio to raw (1 / all) | peak MiB | +1 day s | +1 day beyond start-up, % of full |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        full, inc = r["full"], r["increment"]
        work = full.ingest_and_digests
        share = 100 * max(0.0, inc.seconds - inc.fixed) / max(full.seconds - full.fixed, 1e-9)
        lines.append(f"| {r['events']:,} | {full.seconds:.1f} | {work:.1f} | {r['events'] / max(work, 1e-9):,.0f} "
                     f"| {r['raw_seconds_1_thread']:.1f} / {r['raw_seconds_all_threads']:.1f} "
                     f"| {work / r['raw_seconds_1_thread']:.2f} / {work / r['raw_seconds_all_threads']:.2f} "
                     f"| {max(full.peak_mib, inc.peak_mib):,.0f} | {inc.seconds:.1f} | {share:.1f} |")
    lines.append("")
    for r in results:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["full"].steps.items(), key=lambda kv: -kv[1]))
        lines.append(f"- {r['events']:,} events, full run steps (s): {steps}; outside steps {r['full'].fixed:.1f}")
    return "\n".join(lines)
