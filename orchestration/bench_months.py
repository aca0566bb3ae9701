"""Monthly forecasts by rolling origin: each budget's total forecast from each of its last complete months, one
to three months ahead, against the months that followed, with and without the calendar (trading days).

Reads the warehouse ``budgetlens run`` left (its complete months and days), so it scores the forecasts the
pipeline would have made at each origin, from the data through that month's end only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ORIGINS = 8
HORIZON = 3


def score_budget(spec, history: pd.DataFrame, trading_days: bool, origins: int = ORIGINS,
                 horizon: int = HORIZON) -> pd.DataFrame:
    """One row per forecast: metric, origin, step, absolute % error, whether the 95% and 80% bands held it."""
    from models.projections import forecast_scope, next_period

    months, days = history[history.grain == "month"], history[history.grain == "day"]
    starts = sorted(months["period_start"].unique())
    actual = months.set_index(["metric_id", "period_start"])["value"]
    rows = []
    for origin in starts[-origins - 1:-1]:
        found = forecast_scope(spec, "month", months[months.period_start <= origin], horizon, ("_total", "_total"),
                               daily=days[days.period_start < next_period("month", origin)],
                               trading_days=trading_days)
        for metric_id, f in found.items():
            for step, start in enumerate(f.starts):
                value = actual.get((metric_id, start))
                if value is None or not np.isfinite(value) or value == 0:
                    continue
                rows.append((metric_id, origin, step + 1, abs(f.mean[step] / value - 1),
                             bool(f.lo95[step] <= value <= f.hi95[step]), bool(f.lo80[step] <= value <= f.hi80[step])))
    return pd.DataFrame(rows, columns=["metric_id", "origin", "step", "ape", "in95", "in80"])


def run(duckdb_path: Path, specs_dir: Path) -> list[dict]:
    import duckdb

    from assets.forecast_assets import complete_history
    from models.spec import load_specs

    if not duckdb_path.exists():
        raise FileNotFoundError(f"{duckdb_path}: no warehouse; run `budgetlens run` first")
    conn = duckdb.connect(str(duckdb_path), read_only=True)
    results = []
    for spec in load_specs(specs_dir):
        history = complete_history(conn, spec, ["_total"])
        if history.empty:
            continue
        without, with_ = (score_budget(spec, history, flag) for flag in (False, True))
        results.append({"budget": spec.id, "forecasts": len(with_),
                        **{f"{k}_{side}": round(float(frame[c].mean()), 4)
                           for side, frame in (("without", without), ("with", with_))
                           for k, c in (("error", "ape"), ("cover95", "in95"), ("cover80", "in80"))}})
    conn.close()
    return results


def report(results: list[dict]) -> str:
    lines = ["| budget | forecasts | error (mean absolute %), without → with the calendar | 95% coverage | "
             "80% coverage |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['budget']} | {r['forecasts']} | {100 * r['error_without']:.2f} → {100 * r['error_with']:.2f}"
                     f" | {r['cover95_without']:.3f} → {r['cover95_with']:.3f} | {r['cover80_without']:.3f} → "
                     f"{r['cover80_with']:.3f} |")
    return "\n".join(lines)
