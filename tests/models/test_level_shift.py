"""Level shifts: known days and levels, nothing where there is none, and one shift told where it belongs."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.demo.planted import Effect, frames, planted_spec, simulate
from models.drift.level_shift import (SHIFT_COLUMNS, THRESHOLD, LevelShift, _absolute_fits, _distinct,
                                      _relative_move, budget_level_shifts, level_shift)

DAYS = pd.date_range("2026-07-06", "2026-11-21")
FIRST, LAST = pd.Timestamp("2026-09-01"), pd.Timestamp("2026-10-31")
OCT20 = DAYS.get_loc(pd.Timestamp("2026-10-20"))
T = np.arange(len(DAYS))


def found(values, first=FIRST, last=LAST):
    return level_shift(pd.Series(values, index=DAYS), first, last)


def test_absolute_fits_are_the_sides_medians_deviations():
    x = np.array([1.0, 5.0, 2.0, 8.0, 9.0, 7.0, 30.0])
    splits = np.array([2, 3, 4])
    expected = [np.abs(x[:k] - np.median(x[:k])).sum() + np.abs(x[k:] - np.median(x[k:])).sum() for k in splits]
    assert _absolute_fits(x, splits) == pytest.approx(expected)


def test_a_step_is_found_on_its_day_with_the_sides_medians():
    rng = np.random.default_rng(3)
    values = 100 * np.where(T >= OCT20, 1.15, 1.0) + 5 * rng.standard_normal(len(T))
    shift = found(values)
    assert shift.day == pd.Timestamp("2026-10-20")
    assert shift.before == pytest.approx(np.median(values[:OCT20]), rel=1e-12)
    assert shift.after == pytest.approx(np.median(values[OCT20:]), rel=1e-12)
    assert shift.relative == pytest.approx(0.15, abs=0.02)
    assert shift.z > THRESHOLD
    assert (shift.days_before, shift.days_after) == (OCT20, len(T) - OCT20)


def test_a_rate_stepping_up_in_a_small_depot_is_found():
    """30 deliveries a day, 6% late, then 20% from the 20th: binomial noise, and days with none late (0, so the
    series is judged on its values, not its logarithm)."""
    rng = np.random.default_rng(11)
    told = [found(rng.binomial(30, np.where(T >= OCT20, 0.2, 0.06)) / 30) for _ in range(40)]
    told = [s for s in told if s is not None]
    assert len(told) >= 32  # 92% of 400 draws, measured
    assert np.mean([abs((s.day - DAYS[OCT20]).days) <= 1 for s in told]) >= 0.9
    assert np.median([s.before for s in told]) == pytest.approx(0.0667, abs=0.01)
    assert np.median([s.after for s in told]) == pytest.approx(0.2, abs=0.02)


def test_only_the_candidate_days_may_be_the_day():
    rng = np.random.default_rng(3)
    values = 100 * np.where(T >= OCT20, 1.15, 1.0) + 5 * rng.standard_normal(len(T))
    assert found(values, last=pd.Timestamp("2026-10-10")) is None
    # a new level of the last three days is not told yet
    assert found(100 * np.where(T >= len(T) - 3, 1.3, 1.0) + 5 * rng.standard_normal(len(T))) is None


# series with no lasting or passing change of level (tests/models/test_episode.py adds its own to these)
UNCHANGED = [
    ("white noise", lambda r: 100 + 10 * r.standard_normal(len(T))),
    ("a wandering level, AR(1) 0.9", lambda r: 100 + _ar1(r, 0.9, 5)),
    ("a trend", lambda r: 100 + np.linspace(0, 30, len(T)) + 5 * r.standard_normal(len(T))),
    ("a season turning", lambda r: 100 * (1 + 0.4 * np.sin(2 * np.pi * (T + r.integers(365)) / 365))
     + 2 * r.standard_normal(len(T))),
    ("a two-day strike", lambda r: 100 * np.where((T >= 100) & (T < 102), 0.3, 1) + 5 * r.standard_normal(len(T))),
    ("rare counts", lambda r: r.poisson(0.5, len(T)).astype(float)),
    ("a rate of a few events a day", lambda r: _few_a_day(r)),
]


@pytest.mark.parametrize("name, make", [
    *UNCHANGED,
    ("a ten-day outage", lambda r: 100 * np.where((T >= 60) & (T < 70), 0.5, 1) + 5 * r.standard_normal(len(T))),
])
def test_no_shift_where_there_is_none(name, make):
    rng = np.random.default_rng(2026)
    told = [found(make(rng)) for _ in range(60)]
    assert sum(s is not None for s in told) == 0, name


def test_a_planted_step_is_told_in_most_draws():
    rng = np.random.default_rng(5)
    told = [found(100 * np.where(T >= OCT20, 1.15, 1.0) + 5 * rng.standard_normal(len(T))) for _ in range(60)]
    days = [s.day for s in told if s is not None]
    assert len(days) >= 54  # 98% of 400 draws, measured
    assert np.mean([abs((d - DAYS[OCT20]).days) <= 1 for d in days]) >= 0.9


def _few_a_day(rng):
    """Orders / leads with 1-6 leads a day: the days' rates take a handful of values (0, 1/3, 1/2, 1)."""
    leads = rng.poisson(2.5, len(T))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(leads > 0, rng.binomial(leads, 0.3) / leads, np.nan)


def _ar1(rng, phi, sd):
    noise, out = rng.standard_normal(len(T)) * sd, np.zeros(len(T))
    for i in range(len(T)):
        out[i] = (phi * out[i - 1] if i else 0.0) + noise[i]
    return out


# --- a budget: each shift once, where it belongs ---------------------------------------------------

START, END = dt.date(2025, 1, 1), dt.date(2026, 11, 1)
PERIOD = dt.date(2026, 10, 1)


def shifts_of(effects, events=None, yearly=0.1, seed=7):
    spec = planted_spec(events=events)
    engine_frames = frames(spec, simulate(effects, START, END, yearly_amplitude=yearly, seed=seed))
    return budget_level_shifts(spec, engine_frames.daily, engine_frames.nodes, "month", PERIOD)


def test_a_price_raised_everywhere_is_one_shift_at_the_total_named_after_its_event():
    rows = shifts_of([Effect("component_change", dt.date(2026, 9, 14), magnitude=0.15)],
                     events=[{"date": "2026-09-14", "name": "List price up", "kind": "price_change"}])
    assert list(rows.columns) == SHIFT_COLUMNS
    price = rows[rows.metric_id == "avg_price"]
    assert price["segment_id"].tolist() == ["_total"]
    assert abs((price["shift_day"].iloc[0] - dt.date(2026, 9, 14)).days) <= 1
    assert price["relative_change"].iloc[0] == pytest.approx(0.15, abs=0.03)
    assert price["event"].iloc[0] == "List price up"
    # nothing moved the volumes
    assert not rows["metric_id"].isin(["spend", "leads", "orders", "units", "satisfaction"]).any()


def test_one_store_s_step_is_told_in_the_store_not_in_its_region_or_the_total():
    rows = shifts_of([Effect("influence_change", dt.date(2026, 10, 5), magnitude=-0.6, segments=("r1/s0",))])
    leads = rows[rows.metric_id == "leads"]
    assert leads["segment_id"].tolist() == ["r1/s0"]
    assert abs((leads["shift_day"].iloc[0] - dt.date(2026, 10, 5)).days) <= 1
    assert leads["relative_change"].iloc[0] == pytest.approx(-0.6, abs=0.1)
    assert leads["event"].isna().all()


def test_a_strong_yearly_season_is_no_shift():
    rows = shifts_of([], yearly=0.3)
    assert rows.empty


def test_a_shop_closed_on_sundays_has_its_step_found():
    spec = planted_spec()
    days = simulate([Effect("component_change", dt.date(2026, 9, 14), magnitude=0.15)], START, END, seed=7)
    days = days[pd.to_datetime(days["day"]).dt.dayofweek != 6]
    engine_frames = frames(spec, days)
    rows = budget_level_shifts(spec, engine_frames.daily, engine_frames.nodes, "month", PERIOD)
    price = rows[rows.metric_id == "avg_price"]
    assert price["segment_id"].tolist() == ["_total"]
    assert abs((price["shift_day"].iloc[0] - dt.date(2026, 9, 14)).days) <= 1


def test_a_sum_s_shift_is_the_scope_below_s_when_its_own_move_makes_the_one_above_s():
    """A depot with two thirds of its region's deliveries down 40%: the region moved by 27%, over half as much,
    yet all of it is the depot's, so the depot's shift is told. A rate (no sum) keeps the broader scope; so does
    a sum whose scope above moved by more than the one below can make it (a price raised everywhere)."""
    def item(metric, node, before, after, z):
        return {"metric_id": metric, "segment_id": node,
                "shift": LevelShift(pd.Timestamp("2026-09-28"), before, after, z, 60, 30)}
    parents = {"south": "_total", "south/s1": "south", "south/s2": "south"}
    depot, region = item("deliveries", "south/s1", 60.0, 36.0, -12.0), item("deliveries", "south", 90.0, 66.0, -8.0)
    assert [k["segment_id"] for k in _distinct([depot, region], parents, {"deliveries"})] == ["south/s1"]
    assert [k["segment_id"] for k in _distinct([depot, region], parents, set())] == ["south"]
    everywhere = item("deliveries", "south", 90.0, 54.0, -9.0)
    assert [k["segment_id"] for k in _distinct([depot, everywhere], parents, {"deliveries"})] == ["south"]


def test_a_rate_s_shift_is_the_scope_below_s_unless_the_scopes_beside_it_moved_too():
    """One clinic's no-show rate up from 10% to 25% lifted its region's from 9% to 19% (over half as much): the
    clinic's shift when its neighbour's rate stayed, the region's when the neighbour's rose alike."""
    def item(node, before, after, z):
        return {"metric_id": "no_show_rate", "segment_id": node,
                "shift": LevelShift(pd.Timestamp("2026-10-12"), before, after, z, 80, 18)}
    parents = {"north": "_total", "north/leeds": "north", "north/york": "north", "south": "_total"}
    clinic, region = item("north/leeds", 0.10, 0.25, 10.0), item("north", 0.09, 0.19, 7.6)

    def neighbour_moved(by):
        return lambda metric, node, shift: by if node == "north/york" and shift is clinic["shift"] else None
    assert [k["segment_id"] for k in _distinct([clinic, region], parents, set(), neighbour_moved(0.02))] \
        == ["north/leeds"]
    assert [k["segment_id"] for k in _distinct([clinic, region], parents, set(), neighbour_moved(1.2))] == ["north"]
    assert [k["segment_id"] for k in _distinct([clinic, region], parents, set(), neighbour_moved(-0.8))] \
        == ["north/leeds"]
    # unknown neighbours (too few days): the broader scope, as before
    assert [k["segment_id"] for k in _distinct([clinic, region], parents, set())] == ["north"]


def test_relative_move_reads_a_scope_over_a_shift_s_days():
    days = pd.date_range("2026-08-01", periods=60)
    values = pd.Series(np.where(days >= "2026-09-10", 0.3, 0.2), index=days)
    shift = LevelShift(pd.Timestamp("2026-09-10"), 0.2, 0.3, 9.0, 40, 20)
    assert _relative_move({("rate", "a"): values}, "rate", "a", shift) == pytest.approx(0.5)
    assert _relative_move({("rate", "a"): values}, "rate", "b", shift) is None
    short = LevelShift(pd.Timestamp("2026-08-05"), 0.2, 0.3, 9.0, 4, 56)
    assert _relative_move({("rate", "a"): values}, "rate", "a", short) is None


@pytest.mark.parametrize("where, told", [(("r1/s0",), "r1/s0"), (("r1",), "r1")])
def test_a_price_raised_in_one_store_is_the_store_s_and_in_a_whole_region_the_region_s(where, told):
    """An average price is a mean: a store's +40% lifted its region's by 21%, over half as much, but the other
    stores' prices stayed, so the store's shift is told (the region's was, before)."""
    rows = shifts_of([Effect("component_change", dt.date(2026, 9, 28), magnitude=0.4, segments=where)])
    price = rows[rows.metric_id == "avg_price"]
    assert price["segment_id"].tolist() == [told]
    assert price["relative_change"].iloc[0] == pytest.approx(0.4, abs=0.04)
