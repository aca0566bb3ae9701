"""Planted drift scenarios: a small economic engine with one known cause of change.

Used by the drift tests and the drift benchmark. Each scenario simulates, day by
day and leaf segment by leaf segment, a shop whose spend buys leads that convert
into orders (units at a price) and satisfaction scores, with the demo's weekly
and yearly seasonality and Poisson noise, and switches on planted effects:

* ``event_shock`` -- a measure of some slices multiplied for a few days;
* ``mix_shift`` -- volume moved between slices from a date on;
* ``component_change`` -- the unit price changed everywhere from a date on;
* ``influence_change`` -- leads per unit of spend changed from a date on;
* ``influence_move`` -- spend itself changed (leads follow through the relationship).

Events are aggregated per day exactly as the warehouse does (counts and sums add
up, means are sums over counts, derived metrics are formulas of a node's own base
values), so the result is the engine's input frames.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.demo.seasonality import WEEKDAY_CONSUMER, daily_factor
from models.drift.engine import BudgetFrames
from models.formula import evaluate_array
from models.projections import next_period
from models.spec import BudgetSpec, parse_spec

MEASURES = {"spend": "sum", "lead": "count", "order": "count", "units": "sum", "price": "mean", "score": "mean"}


@dataclass(frozen=True)
class Effect:
    kind: str                 # event_shock | mix_shift | component_change | influence_change | influence_move
    start: dt.date
    end: dt.date | None = None
    magnitude: float = 0.0
    segments: tuple[str, ...] = ()   # leaf-path prefixes (e.g. "north" or "north/s1"); empty = every slice


def planted_spec(events: list[dict] | None = None, extra_metrics: dict | None = None,
                 extra_relationships: list[dict] | None = None) -> BudgetSpec:
    """The planted shop's spec: two segment levels, base metrics, three formulas, one relationship."""
    metric = lambda **kw: {"step": "sell", **kw}  # noqa: E731
    return parse_spec({
        "id": "planted_shop", "name": "Planted shop", "owner": "tests",
        "allocation": {"amount": 1e6, "currency": "EUR", "period": "year"},
        "value_chain": ["buy", "sell"],
        "segments": {"levels": ["region", "store"]},
        "measures": {m: {} for m in MEASURES},
        "metrics": {
            "spend": {"measure": "spend", "agg": "sum", "step": "buy"},
            "leads": metric(measure="lead", agg="count"),
            "orders": metric(measure="order", agg="count", roles=["north_star"]),
            "units": metric(measure="units", agg="sum"),
            "avg_price": metric(measure="price", agg="mean"),
            "satisfaction": metric(measure="score", agg="mean"),
            "revenue": metric(formula="avg_price * units"),
            "conversion": metric(formula="orders / leads"),
            "cost_per_order": metric(formula="spend / orders"),
            **(extra_metrics or {}),
        },
        "relationships": [{"from": "spend", "to": "leads", "type": "causal"}, *(extra_relationships or [])],
        "events": events or [],
        "source": {"kind": "demo", "scenario": "planted_shop"},
    }, "planted_shop.yaml")


def leaves(regions: int = 3, stores: int = 2) -> list[tuple[str, str]]:
    return [(f"r{r}", f"r{r}/s{s}") for r in range(regions) for s in range(stores)]


def _active(effect: Effect, day: dt.date) -> bool:
    return day >= effect.start and (effect.end is None or day <= effect.end)


def _hit(effect: Effect, path: str) -> bool:
    return not effect.segments or any(path == s or path.startswith(s + "/") for s in effect.segments)


def simulate(effects: list[Effect], start: dt.date, end: dt.date, regions: int = 3, stores: int = 2,
             seed: int = 7, yearly_amplitude: float = 0.1) -> pd.DataFrame:
    """Daily per-leaf measure aggregates (count and sum per measure) for ``[start, end)``."""
    rng = np.random.default_rng(seed)
    shop = leaves(regions, stores)
    variety = 0.8 + 0.4 * ((np.arange(len(shop)) * 0.37) % 1.0)
    rows = []
    day = start
    while day < end:
        season = daily_factor(day, WEEKDAY_CONSUMER, yearly_amplitude, 200, 0.0)
        for i, (_, path) in enumerate(shop):
            volume, spend_level, efficiency, price, shock = variety[i] * season, 1.0, 0.04, 20.0, {}
            for e in effects:
                if not _active(e, day) or not _hit(e, path):
                    continue
                if e.kind == "mix_shift":
                    volume *= 1 + e.magnitude
                elif e.kind == "component_change":
                    price *= 1 + e.magnitude
                elif e.kind == "influence_change":
                    efficiency *= 1 + e.magnitude
                elif e.kind == "influence_move":
                    spend_level *= 1 + e.magnitude
                elif e.kind == "event_shock":
                    shock["lead"] = shock.get("lead", 1.0) * (1 + e.magnitude)
            spend_events = rng.poisson(40 * volume * spend_level)
            spend = float(rng.gamma(4.0, 25.0 / 4.0, spend_events).sum())
            leads = rng.poisson(spend * efficiency * shock.get("lead", 1.0))
            orders = rng.binomial(leads, 0.3)
            units = rng.poisson(2.0, orders) + 1
            prices = rng.normal(price, 2.0, orders)
            scores = np.clip(np.rint(rng.normal(4.0, 0.7, orders)), 1, 5)
            for measure, count, total in (("spend", spend_events, spend), ("lead", leads, float(leads)),
                                          ("order", orders, float(orders)), ("units", orders, float(units.sum())),
                                          ("price", orders, float(prices.sum())), ("score", orders, float(scores.sum()))):
                rows.append((day, path, measure, int(count), total))
        day += dt.timedelta(days=1)
    return pd.DataFrame(rows, columns=["day", "leaf", "measure", "count", "sum"])


def _nodes(paths: list[str]) -> pd.DataFrame:
    rows = [("_total", "_total", "total", None)]
    for region in sorted({p.split("/")[0] for p in paths}):
        rows.append(("region", region, region, "_total"))
    for path in sorted(paths):
        rows.append(("store", path, path.split("/")[1], path.split("/")[0]))
    return pd.DataFrame(rows, columns=["segment_level", "segment_id", "node_value", "parent_id"])


def _metric_values(spec: BudgetSpec, agg: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Base and derived metric values per node from measure counts and sums (the warehouse's semantics)."""
    wide = agg.pivot_table(index=keys, columns="measure", values=["count", "sum"], aggfunc="sum", fill_value=0)
    out = {}
    for mid, metric in spec.metrics.items():
        if metric.kind != "base":
            continue
        count, total = wide[("count", metric.measure)].astype(float), wide[("sum", metric.measure)].astype(float)
        out[mid] = (count if metric.agg == "count" else total if metric.agg == "sum"
                    else total / count.where(count > 0))
    for mid, expr in spec.parsed_formulas().items():
        out[mid] = pd.Series(evaluate_array(expr, {k: v.to_numpy() for k, v in out.items()}), index=wide.index)
    frame = pd.DataFrame(out).reset_index().melt(id_vars=keys, var_name="metric_id", value_name="value")
    return frame


def frames(spec: BudgetSpec, leaf_days: pd.DataFrame, grain: str = "month") -> BudgetFrames:
    """The engine's input frames from :func:`simulate`'s output, aggregated to every node."""
    paths = sorted(leaf_days["leaf"].unique())
    nodes = _nodes(paths)
    by_node = []
    for node, level in zip(nodes["segment_id"], nodes["segment_level"]):
        members = leaf_days if node == "_total" else leaf_days[
            (leaf_days["leaf"] == node) | leaf_days["leaf"].str.startswith(node + "/")]
        by_node.append(members.assign(segment_id=node))
    data = pd.concat(by_node, ignore_index=True)
    data["period_start"] = pd.to_datetime(data["day"])
    daily = _metric_values(spec, data, ["segment_id", "period_start"])
    weights = (data.groupby(["measure", "segment_id", "period_start"], as_index=False)["count"].sum()
               .rename(columns={"count": "weight"}))
    if grain != "day":
        data["period_start"] = data["period_start"].dt.to_period({"month": "M", "week": "W-SUN"}[grain]).dt.start_time
    periods = _metric_values(spec, data, ["segment_id", "period_start"])
    last_day = leaf_days["day"].max()
    periods["is_complete"] = [_complete(grain, p.date(), last_day) for p in periods["period_start"]]
    return BudgetFrames(daily=daily, periods=periods, weights=weights, nodes=nodes)


def _complete(grain: str, start: dt.date, last_day: dt.date) -> bool:
    return next_period(grain, start, 1) <= last_day + dt.timedelta(days=1)
