"""``budgetlens bench m4``: the forecaster against the M4 competition's Weekly or Hourly set.

One method for every series of a frequency (no per-series tuning); the series
are forecast in parallel worker processes, one per core.
"""

from __future__ import annotations

import csv
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from models.forecasting import forecast
from models.forecasting.accuracy import coverage, mase, msis, naive2, owa, smape


@dataclass(frozen=True)
class Frequency:
    name: str  # file prefix in the M4 data folder
    horizon: int
    period: int  # MASE's seasonal period, as M4 scores it
    candidate_periods: tuple[int, ...]  # seasonal periods the forecaster may test


FREQUENCIES = {
    "weekly": Frequency("Weekly", 13, 1, (52,)),
    "hourly": Frequency("Hourly", 48, 24, (24, 168)),
}


def read_series(path: Path) -> dict[str, np.ndarray]:
    """M4 CSV: a header, then one row per series (id, values in time order, empty padding)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: M4 file not found")
    series = {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for number, row in enumerate(reader, start=2):
            values = [float(v) for v in row[1:] if v != ""]
            if not values:
                raise ValueError(f"{path}: row {number} ({row[0] if row else '?'}) has no values")
            series[row[0]] = np.asarray(values)
    return series


def one_blas_thread() -> None:
    # Each worker is one of ``workers`` processes on as many cores: OpenBLAS's own threads on top of them
    # oversubscribe the cores (M4 Weekly, last 40 points: 187.9 s with them, 6.7 s without, measured).
    threadpool_limits(1)


# Joint paths per series, for the interval of the horizon's total (what goal tracking reads from them).
PATH_DRAWS = 1000


def _forecast_one(job):
    series_id, history, frequency = job
    result = forecast(history, frequency.horizon, frequency.candidate_periods, paths=PATH_DRAWS,
                      seed=zlib.crc32(series_id.encode()))
    return series_id, result


def run(frequency_name: str, data: Path, out: Path, workers: int = 2, history: int | None = None) -> dict[str, float]:
    """Forecast every series, write ``id, step, yhat, lo95, hi95`` and return the scores.

    ``history`` keeps only each series' last ``history`` training points (forecast and scored, Naive2 too,
    on that stretch alone): the short histories the pipeline's weekly and monthly series have.
    """
    if history is not None and history < 1:
        raise ValueError(f"history must be a positive number of points, got {history}")
    frequency = FREQUENCIES[frequency_name]
    train = read_series(data / f"{frequency.name}-train.csv")
    if history is not None:
        train = {series_id: values[-history:] for series_id, values in train.items()}
    test = read_series(data / f"{frequency.name}-test.csv")
    missing = sorted(set(train) ^ set(test))
    if missing:
        raise ValueError(f"{data}: train and test files disagree on series {missing[:5]}")
    started = time.perf_counter()
    jobs = [(series_id, values, frequency) for series_id, values in train.items()]
    with ProcessPoolExecutor(max_workers=workers, initializer=one_blas_thread) as pool:
        results = dict(pool.map(_forecast_one, jobs, chunksize=4))
    seconds = time.perf_counter() - started

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "step", "yhat", "lo95", "hi95"])
        for series_id, result in results.items():
            for step in range(frequency.horizon):
                writer.writerow([series_id, step + 1, f"{result.mean[step]:.6g}", f"{result.lo95[step]:.6g}",
                                 f"{result.hi95[step]:.6g}"])
    return score(train, test, results, frequency) | {"seconds": seconds, "series": len(results)}


def score(train, test, results, frequency: Frequency) -> dict[str, float]:
    """sMAPE, MASE, OWA (against Naive2 computed here), MSIS and 95% coverage, averaged over series; and the
    95% interval of the horizon's total from the joint paths: its MSIS (scaled by the horizon times the
    naive scale, so it reads like the per-step MSIS) and coverage."""
    rows = []
    for series_id, result in results.items():
        history, actual = train[series_id], test[series_id][: frequency.horizon]
        benchmark = naive2(history, frequency.horizon, frequency.period)
        low, high = np.quantile(result.paths.sum(axis=1), [0.025, 0.975])
        total = [actual.sum()]
        rows.append((
            smape(actual, result.mean), mase(history, actual, result.mean, frequency.period),
            smape(actual, benchmark), mase(history, actual, benchmark, frequency.period),
            msis(history, actual, result.lo95, result.hi95, frequency.period),
            coverage(actual, result.lo95, result.hi95),
            msis(history, total, [low], [high], frequency.period) / frequency.horizon,
            coverage(total, [low], [high]),
        ))
    s, m, s2, m2, interval, covered, total_interval, total_covered = np.mean(np.asarray(rows), axis=0)
    methods = {}
    for result in results.values():
        methods[result.method] = methods.get(result.method, 0) + 1
    return {"smape": s, "mase": m, "owa": owa(s, m, s2, m2), "smape_naive2": s2, "mase_naive2": m2,
            "msis": interval, "coverage95": covered, "total_msis": total_interval, "total_coverage95": total_covered,
            "methods": methods}


def report(frequency_name: str, scores: dict) -> str:
    methods = ", ".join(f"{name} {count}" for name, count in sorted(scores["methods"].items()))
    return (f"M4 {frequency_name}: {scores['series']} series, horizon {FREQUENCIES[frequency_name].horizon}\n"
            f"  sMAPE {scores['smape']:.3f}  MASE {scores['mase']:.3f}  OWA {scores['owa']:.3f}"
            f"  (Naive2 here: sMAPE {scores['smape_naive2']:.3f}, MASE {scores['mase_naive2']:.3f})\n"
            f"  MSIS {scores['msis']:.3f}  95% coverage {scores['coverage95']:.3f}  seconds {scores['seconds']:.1f}\n"
            f"  horizon total: MSIS {scores['total_msis']:.3f}  95% coverage {scores['total_coverage95']:.3f}\n"
            f"  models chosen: {methods}")
