"""Drift benchmark: decompose every metric x scope x latest period, timed, with peak memory.

Two workloads: the default demo's warehouse (as `budgetlens run` left it) and the
planted shop (models.demo.planted) with 1x, 10x and 100x more leaf segments, so
the cost's growth with the number of segments is measured, not assumed. Each
case runs in a fresh process so its peak memory is its own.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import resource
import time
from pathlib import Path

PLANTED_START, PLANTED_END = dt.date(2025, 1, 1), dt.date(2026, 11, 1)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _warehouse_case(duckdb_path: str, specs_dir: str, grains: tuple[str, ...]) -> dict:
    import duckdb

    from assets.drift_assets import drift_rows
    from models.spec import load_specs

    conn = duckdb.connect(duckdb_path, read_only=True)
    started = time.perf_counter()
    rows, _ = drift_rows(conn, load_specs(specs_dir), grains)
    seconds = time.perf_counter() - started
    scopes = conn.execute("select count(*) from main.dim_segments").fetchone()[0]
    conn.close()
    return {"case": "default demo (warehouse)", "leaf_segments": None, "scopes": scopes, "rows": len(rows),
            "seconds": round(seconds, 2), "peak_mib": round(_peak_mib(), 1)}


def _planted_case(stores: int) -> dict:
    from models.demo.planted import Effect, frames, planted_spec, simulate
    from models.drift.engine import decompose_budget, default_pairs

    spec = planted_spec()
    days = simulate([Effect("mix_shift", dt.date(2026, 10, 1), None, 0.5, ("r1",))], PLANTED_START, PLANTED_END,
                    stores=stores)
    data = frames(spec, days)
    started = time.perf_counter()
    rows = decompose_budget(spec, data, "month", default_pairs("month", dt.date(2026, 10, 1)))
    seconds = time.perf_counter() - started
    return {"case": f"planted shop, {stores} stores per region", "leaf_segments": 3 * stores,
            "scopes": len(data.nodes), "rows": len(rows), "seconds": round(seconds, 2),
            "peak_mib": round(_peak_mib(), 1)}


def _isolated(func, *args) -> dict:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(func, args)


def run(duckdb_path: Path | None, specs_dir: Path, grains: tuple[str, ...], multipliers: list[int]) -> list[dict]:
    results = []
    if duckdb_path is not None:
        if not duckdb_path.exists():
            raise FileNotFoundError(f"{duckdb_path}: no warehouse; run `budgetlens run` first (or pass --skip-demo)")
        results.append(_isolated(_warehouse_case, str(duckdb_path), str(specs_dir), grains))
    for multiplier in multipliers:
        results.append(_isolated(_planted_case, 2 * multiplier))
    return results


def report(results: list[dict]) -> str:
    lines = ["| case | leaf segments | scopes | rows | seconds | peak MiB |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['case']} | {r['leaf_segments'] or '-'} | {r['scopes']} | {r['rows']:,} | {r['seconds']} "
                     f"| {r['peak_mib']} |")
    return "\n".join(lines)
