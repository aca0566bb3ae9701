"""Two-year daily histories shared by the tests of what forecasts find in their days (episodes, shocks)."""

import datetime as dt
from collections.abc import Iterator

import numpy as np

DAYS = [dt.date(2024, 11, 1) + dt.timedelta(d) for d in range(730)]  # two years, to Saturday 2026-10-31


def expected_daily(level: float, amplitude: float = 0.2, trend: float = 0.0, phase: float = 200.0) -> np.ndarray:
    """A business's expected daily count: a yearly cycle peaking on day ``phase`` of the year, weekends at 70%."""
    return np.array([level * (1 + amplitude * np.cos(2 * np.pi * (d.timetuple().tm_yday - phase) / 365.25))
                     * (1 + trend * k / 365) * (0.7 if d.weekday() >= 5 else 1.0) for k, d in enumerate(DAYS)])


def ordinary_means(rng: np.random.Generator, count: int) -> Iterator[tuple[int, float, float, np.ndarray]]:
    """``count`` expected daily counts with nothing unusual in them: ``(k, level, phi, mean)``, a level of 5 to
    20,000 a day, with or without a yearly cycle, a trend, and a level that wanders (an AR(1) of the logarithm
    with persistence ``phi``). Lazily, so that draws made between them come from ``rng`` in turn."""
    for k in range(count):
        level = float(rng.choice([5, 30, 200, 2000, 20000]))
        phi, sigma = [(0.0, 0.0), (0.5, 0.05), (0.9, 0.03)][k % 3]
        wander = np.zeros(len(DAYS))
        for t, shock in enumerate(rng.normal(0, sigma, len(DAYS))[1:], start=1):
            wander[t] = phi * wander[t - 1] + shock
        yield k, level, phi, expected_daily(level, float(rng.choice([0, 0.2, 0.4])), float(rng.uniform(-0.3, 0.5)),
                                            float(rng.uniform(0, 365))) * np.exp(wander)
