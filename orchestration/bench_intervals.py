"""``budgetlens bench intervals``: the forecaster on simulated daily series whose futures are known.

M4 scores step by step; goal tracking reads totals over many days from the forecast's joint paths, and a
budget's daily series can be short with a long horizon ahead. Eleven kinds of daily series (noise around a
level, counts, AR(1), a random walk, a weekly season, a trend, a slowly moving level under noise, a yearly
season of volumes and of counts, a temperature's season under lasting spells, a shop's sharp December), each
forecast from ``history`` days for ``horizon`` days ahead (default half the history), asked for the pipeline's
weekly and yearly cycles: MASE and MSIS step by step, and the coverage and interval score of the 95% interval
of the horizon's total.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from models.forecasting import forecast
from models.forecasting.accuracy import interval_score, mase, msis
from orchestration.bench_m4 import PATH_DRAWS, one_blas_thread

KINDS = ("noise", "counts", "ar1", "random_walk", "weekly", "trend", "level_and_noise", "yearly", "yearly_counts",
         "yearly_weather", "holiday_peak")
PERIOD = 7
PERIODS = (PERIOD, 365)  # what the pipeline asks of daily series: a weekly and a yearly cycle, each tested


def _ar1(shocks: np.ndarray, phi: float, first: float) -> np.ndarray:
    """``y[0] = first``, ``y[i] = phi * y[i - 1] + shocks[i]``."""
    y = np.empty(len(shocks))
    y[0] = first
    for i in range(1, len(shocks)):
        y[i] = phi * y[i - 1] + shocks[i]
    return y


def simulate(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """One daily series of ``kind``, ``n`` days long."""
    t = np.arange(n)
    if kind == "noise":
        return 10 + rng.normal(0, 2, n)
    if kind == "counts":
        return rng.poisson(3, n).astype(float)
    if kind == "ar1":
        shocks = rng.normal(0, 2, n)
        return 20 + _ar1(shocks, 0.7, shocks[0])
    if kind == "random_walk":
        return 50 + np.cumsum(rng.normal(0, 1, n))
    if kind == "weekly":
        return 10 + 3 * np.sin(2 * np.pi * t / PERIOD) + rng.normal(0, 1, n)
    if kind == "trend":
        return 10 + 0.05 * t + rng.normal(0, 1, n)
    if kind == "level_and_noise":
        return 30 + np.cumsum(rng.normal(0, 0.3, n)) + rng.normal(0, 2, n)
    if kind == "yearly_weather":
        # a temperature: a yearly wave under spells of weather that last (AR(1) anomalies at 0.85 a day)
        shocks = rng.normal(0, 1.5, n)
        spells = _ar1(shocks, 0.85, shocks[0] / np.sqrt(1 - 0.85 ** 2))  # started at its stationary spread
        return 10 - 9 * np.cos(2 * np.pi * (t - rng.integers(0, 365)) / 365.25) + spells
    weekly = np.where(t % PERIOD >= 5, 1.2, 1.0)
    if kind == "holiday_peak":
        # a shop's December: 24 days at +35%, then a month at -15%, on a random day of the year
        day = (t + rng.integers(0, 365)) % 365
        return 100 * np.where(day < 24, 1.35, np.where(day < 55, 0.85, 1.0)) * weekly * np.exp(rng.normal(0, 0.05, n))
    # a season of volumes (+-25% over the year, its peak on a random day) with a weekend lift
    season = 1 + 0.25 * np.sin(2 * np.pi * (t - rng.integers(0, 365)) / 365.25)
    if kind == "yearly":
        return 100 * season * weekly * np.exp(rng.normal(0, 0.1, n))
    if kind == "yearly_counts":
        return rng.poisson(4 * season * weekly).astype(float)
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def _one(job) -> tuple:
    kind, number, history, horizon = job
    y = simulate(kind, np.random.default_rng(5000 + number), history + horizon)
    past, future = y[:history], y[history:]
    f = forecast(past, horizon, PERIODS, paths=PATH_DRAWS, seed=number)
    low, high = np.quantile(f.paths.sum(axis=1), [0.025, 0.975])
    return (kind, f.method.split("(")[0], mase(past, future, f.mean, PERIOD),
            msis(past, future, f.lo95, f.hi95, PERIOD), float(low <= future.sum() <= high),
            float(interval_score(future.sum(), low, high)))


def run(history: int, series: int = 80, workers: int = 2, horizon: int | None = None) -> dict[str, dict]:
    """Scores per kind (means over ``series`` seeded series of ``history`` days, ``horizon`` ahead)."""
    horizon = history // 2 if horizon is None else horizon
    if history < 8 or horizon < 1:
        raise ValueError(f"history must be at least 8 days and horizon at least 1, got {history} and {horizon}")
    started = time.perf_counter()
    jobs = [(kind, number, history, horizon) for kind in KINDS for number in range(series)]
    with ProcessPoolExecutor(max_workers=workers, initializer=one_blas_thread) as pool:
        rows = list(pool.map(_one, jobs, chunksize=8))
    out = {}
    for kind in KINDS:
        mine = [r for r in rows if r[0] == kind]
        out[kind] = {"methods": dict(Counter(r[1] for r in mine)),
                     **{name: float(np.mean([r[i] for r in mine]))
                        for i, name in enumerate(("mase", "msis", "total_coverage95", "total_score"), start=2)}}
    out["_run"] = {"seconds": time.perf_counter() - started, "history": history, "horizon": horizon}
    return out


def report(results: dict[str, dict]) -> str:
    run = results["_run"]
    lines = [f"{run['history']} days of history, {run['horizon']} ahead: per kind MASE, MSIS, and the 95% interval "
             "of the horizon's total (coverage, interval score)",
             f"{'kind':16s} {'MASE':>7s} {'MSIS':>7s} {'total cov':>9s} {'total score':>11s}  models"]
    for kind in KINDS:
        r = results[kind]
        methods = ", ".join(f"{m} {c}" for m, c in sorted(r["methods"].items()))
        lines.append(f"{kind:16s} {r['mase']:7.3f} {r['msis']:7.2f} {r['total_coverage95']:9.2f} "
                     f"{r['total_score']:11.1f}  {methods}")
    lines.append(f"seconds {run['seconds']:.1f}")
    return "\n".join(lines)
