"""Seeded generator of the demo organisation's events, one day at a time.

Every day is drawn from its own generator seeded by (seed, budget, day), so any
day -- any Dagster partition -- is reproducible on its own, and a range of days
can be streamed without holding more than one day in memory.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from models.demo.scenarios import PLANTED, SCENARIOS, Scenario

DEFAULT_SEED = 20250101


@dataclass(frozen=True)
class DayBatch:
    """One budget-day: long-format events and free-text documents."""

    budget: str
    day: dt.date
    events: pd.DataFrame
    documents: pd.DataFrame


def scenario(budget: str) -> Scenario:
    try:
        return SCENARIOS[budget]
    except KeyError:
        raise KeyError(f"unknown demo scenario {budget!r}; known: {', '.join(sorted(SCENARIOS))}") from None


def _rng(seed: int, budget: str, day: dt.date) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(budget.encode()), day.toordinal()])


def generate_day(budget: str, day: dt.date, seed: int = DEFAULT_SEED, scale: float = 1.0) -> DayBatch:
    """Events of one demo budget for one UTC day.

    Parameters
    ----------
    budget : str
        Scenario name (a demo budget id).
    day : datetime.date
        The UTC day to generate.
    seed : int
        Base seed; the same (seed, budget, day, scale) always gives the same rows.
    scale : float
        Multiplier on every event intensity (0.01 gives a tiny demo, 30 tens of
        millions of events over two years).

    Returns
    -------
    DayBatch
        ``events`` with columns timestamp (UTC, naive), measure, value,
        event_id and one column per segment level; ``documents`` with
        timestamp, kind, text, doc_id and the segment columns.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    sc = scenario(budget)
    emissions, documents = sc.simulate(day, _rng(seed, budget, day), scale)
    midnight = np.datetime64(day, "us")
    leaves = np.array(sc.leaves, dtype=object)

    frames = []
    for em in emissions:
        frames.append(pd.DataFrame({
            "second": em.second, "measure": em.measure, "value": em.value.astype(float), "leaf": em.leaf,
        }))
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["second", "measure", "value", "leaf"])
    events = events.sort_values(["second", "measure", "leaf"], kind="stable", ignore_index=True)
    events.insert(0, "timestamp", midnight + events["second"].to_numpy().astype("timedelta64[s]"))
    prefix = f"{budget[:3]}{day:%Y%m%d}"
    events["event_id"] = [f"{prefix}{i:08d}" for i in range(len(events))]
    for col, level in enumerate(sc.levels):
        events[level] = leaves[events["leaf"].to_numpy(), col] if len(events) else pd.Series(dtype=object)
    events = events.drop(columns=["second", "leaf"])

    doc_frames = []
    for docs in documents:
        frame = pd.DataFrame({"second": docs.second, "kind": docs.kind, "text": docs.text, "leaf": docs.leaf})
        doc_frames.append(frame)
    docs_df = pd.concat(doc_frames, ignore_index=True) if doc_frames else pd.DataFrame(
        {"second": pd.Series(dtype="int64"), "kind": pd.Series(dtype=object), "text": pd.Series(dtype=object),
         "leaf": pd.Series(dtype="int64")})
    docs_df = docs_df.sort_values(["second", "kind"], kind="stable", ignore_index=True)
    docs_df.insert(0, "timestamp", midnight + docs_df["second"].to_numpy().astype("timedelta64[s]"))
    docs_df["doc_id"] = [f"{prefix}d{i:07d}" for i in range(len(docs_df))]
    for col, level in enumerate(sc.levels):
        docs_df[level] = leaves[docs_df["leaf"].to_numpy().astype(int), col] if len(docs_df) else pd.Series(dtype=object)
    docs_df = docs_df.drop(columns=["second", "leaf"])
    return DayBatch(budget, day, events, docs_df)


def iter_days(budget: str, start: dt.date, end: dt.date, seed: int = DEFAULT_SEED,
              scale: float = 1.0) -> Iterator[DayBatch]:
    """Yield :func:`generate_day` for every day in ``[start, end)``."""
    day = start
    while day < end:
        yield generate_day(budget, day, seed, scale)
        day += dt.timedelta(days=1)


def scale_for_events(target_events: int, budgets: list[str], start: dt.date, end: dt.date,
                     seed: int = DEFAULT_SEED, sample_days: int = 21) -> float:
    """The scale at which ``budgets`` over ``[start, end)`` produce about ``target_events`` events.

    Measured, not guessed: up to ``sample_days`` days spread evenly over the range are
    generated at scale 1 and their volume extrapolated (intensities are linear in scale).
    """
    days = (end - start).days
    if days <= 0 or not budgets:
        raise ValueError("need at least one budget and one day")
    picks = sorted({start + dt.timedelta(days=int(i)) for i in np.linspace(0, days - 1, min(days, sample_days))})
    sampled = sum(len(generate_day(b, day, seed, 1.0).events) for b in budgets for day in picks)
    per_scale = sampled / len(picks) * days
    if per_scale == 0:
        raise ValueError("the sampled days produced no events")
    return target_events / per_scale


def ground_truth(seed: int = DEFAULT_SEED, scale: float = 1.0) -> dict:
    """The planted phenomena of the demo, as a JSON-ready dict."""
    return {
        "seed": seed,
        "scale": scale,
        "phenomena": [
            {**asdict(p), "start": p.start.isoformat(), "end": p.end.isoformat(), "segments": list(p.segments)}
            for p in PLANTED
        ],
        "ticket_sentiment": "ticket body tone follows the customer's CSAT answer: 1 furious .. 5 delighted",
    }
