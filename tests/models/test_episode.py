"""Episodes: weeks at another level, then back: known days and levels, none where there is none or it is not
over, none where the same weeks a year before did the same, and told in a budget and its briefing."""

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.briefing.grounding import check_grounding
from models.briefing.payload import build_payload
from models.briefing.template import render_markdown
from models.demo.planted import Effect, frames, planted_spec, simulate
from models.drift.episode import MIN_AFTER, THRESHOLD, episode
from models.drift.level_shift import SHIFT_COLUMNS, budget_level_shifts, level_shift
from tests.models.test_briefing import SPEC, inputs, monthly_values
from tests.models.test_level_shift import DAYS, FIRST, LAST, T, UNCHANGED

SEP24 = 80  # DAYS[80]


def planted(rng, magnitude=-0.3, days=21, start=SEP24, noise=5.0):
    return 100 * np.where((T >= start) & (T < start + days), 1 + magnitude, 1) + noise * rng.standard_normal(len(T))


def found(values, first=FIRST, last=LAST, history=None):
    return episode(pd.Series(values, index=DAYS), first, last, history)


def test_three_weeks_down_by_a_third_are_found_with_their_days_and_medians():
    values = planted(np.random.default_rng(3))
    told = found(values)
    assert (told.day, told.last) == (DAYS[SEP24], DAYS[SEP24 + 20])
    assert told.before == pytest.approx(np.median(values[:SEP24]), rel=1e-12)
    assert told.during == pytest.approx(np.median(values[SEP24:SEP24 + 21]), rel=1e-12)
    assert told.after == pytest.approx(np.median(values[SEP24 + 21:]), rel=1e-12)
    assert told.relative == pytest.approx(-0.3, abs=0.03)
    assert told.z < -THRESHOLD
    assert (told.days_before, told.days_during, told.days_after) == (SEP24, 21, len(T) - SEP24 - 21)


@pytest.mark.parametrize("magnitude, days, least", [
    (-0.3, 14, 58), (-0.3, 35, 58), (0.15, 21, 55), (0.15, 35, 58),  # 100%, 100%, 98%, 100% of 400 draws
])
def test_planted_episodes_are_told_in_most_draws_on_their_days(magnitude, days, least):
    rng = np.random.default_rng(5)
    told = [found(planted(rng, magnitude, days)) for _ in range(60)]
    told = [e for e in told if e is not None]
    assert len(told) >= least
    assert np.mean([abs((e.day - DAYS[SEP24]).days) <= 1 and abs((e.last - DAYS[SEP24 + days - 1]).days) <= 1
                    for e in told]) >= 0.9


@pytest.mark.parametrize("name, make", [
    *UNCHANGED,
    ("a ten-day outage (a shock's)", lambda r: planted(r, -0.5, 10, start=90)),
    ("a new level that holds (a shift's)", lambda r: 100 * np.where(T >= 100, 1.15, 1.0)
     + 5 * r.standard_normal(len(T))),
    ("heavy tails", lambda r: 100 + 5 * r.standard_t(3, len(T))),
])
def test_no_episode_where_there_is_none(name, make):
    rng = np.random.default_rng(2026)
    assert sum(found(make(rng)) is not None for _ in range(60)) == 0, name


def test_a_new_level_with_closed_days_in_its_last_weeks_is_no_episode():
    """A region up 30% from the day a clinic opened, with another clinic closed three days a week and a half
    before the data ends: the week after a span that ends before the closure has its median pulled down by it,
    but the days after sit at the new level, not back at the one before (5 of 40 draws were told as episodes)."""
    days = pd.date_range("2026-07-15", "2026-10-31")
    first = pd.Timestamp("2026-09-01")
    told = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        values = 80 * np.where(days >= first, 1.3, 1.0) * (1 + 0.06 * rng.standard_normal(len(days)))
        values[(days >= "2026-10-20") & (days <= "2026-10-22")] *= 0.6
        values[days.day_of_week == 6] = np.nan  # closed on Sundays
        told.append(episode(pd.Series(values, index=days), first, days[-1]))
    assert told == [None] * 40

def test_an_episode_not_over_for_a_week_is_not_told_nor_a_shorter_one():
    """Eight weeks up, of which the last three days are the data's last: neither the episode (not over) nor a
    span ending a week before the data do (whose 'after' would be the episode's own days)."""
    rng = np.random.default_rng(8)
    start = len(T) - 3 - 53
    assert all(found(planted(rng, 0.15, 56, start=start)) is None for _ in range(40))
    # the same weeks, over for a week: told
    values = planted(rng, 0.3, 49, start=len(T) - MIN_AFTER - 49)
    assert found(values).last == DAYS[len(T) - MIN_AFTER - 1]


def test_the_same_weeks_a_year_before_moving_alike_are_a_season():
    """A shop's four December weeks up 40% each year are its season, told by neither year; the same weeks with
    a flat year before are an episode."""
    rng = np.random.default_rng(4)
    days = pd.date_range("2025-07-07", DAYS[-1])
    position = np.arange(len(days))
    both = (days.dayofyear >= 250) & (days.dayofyear < 278)  # 7 September to 4 October, each year
    values = pd.Series(100 * np.where(both, 1.4, 1.0) + 5 * rng.standard_normal(len(days)), index=days)
    this_year = values[DAYS]
    assert found(this_year, history=values) is None
    flat_before = values.where(days >= DAYS[0], 100 + 5 * rng.standard_normal(len(days)))
    told = found(this_year, history=flat_before)
    assert told is not None and told.day == days[both & (position > 365)][0]
    assert found(this_year) is not None  # no year of history: nothing to tell a season by


def test_an_episode_is_no_level_shift():
    rng = np.random.default_rng(3)
    assert sum(level_shift(pd.Series(planted(rng, -0.3, 35), index=DAYS), FIRST, LAST) is not None
               for _ in range(40)) == 0


# --- a budget: an episode told where it belongs, and in the briefing -------------------------------------

START, END = dt.date(2025, 1, 1), dt.date(2026, 11, 1)
PERIOD = dt.date(2026, 10, 1)


def test_three_weeks_of_a_region_s_weaker_leads_are_one_episode_of_the_region():
    spec = planted_spec()
    effects = [Effect("influence_change", dt.date(2026, 9, 21), dt.date(2026, 10, 11), magnitude=-0.4,
                      segments=("r1",))]
    engine_frames = frames(spec, simulate(effects, START, END, seed=7))
    rows = budget_level_shifts(spec, engine_frames.daily, engine_frames.nodes, "month", PERIOD)
    assert list(rows.columns) == SHIFT_COLUMNS
    leads = rows[rows.metric_id == "leads"]
    assert leads["segment_id"].tolist() == ["r1"]
    first, last = leads["shift_day"].iloc[0], leads["last_day"].iloc[0]
    assert abs((first - dt.date(2026, 9, 21)).days) <= 1 and abs((last - dt.date(2026, 10, 11)).days) <= 1
    assert leads["relative_change"].iloc[0] == pytest.approx(-0.4, abs=0.08)
    assert leads["level_back"].iloc[0] == pytest.approx(leads["level_before"].iloc[0], rel=0.1)
    assert leads["days_after"].iloc[0] == (last - first).days + 1 and leads["days_back"].iloc[0] >= 14
    # spend, price and satisfaction did not move
    assert not rows["metric_id"].isin(["spend", "avg_price", "satisfaction"]).any()


def test_an_episode_is_told_in_the_briefing_apart_from_new_levels_and_grounded():
    def row(metric, segment_id, day, before, after, z, last=None, back=None, event=None):
        return {"budget_id": SPEC.id, "grain": "month", "period_start": dt.date(2026, 6, 1), "metric_id": metric,
                "segment_level": "channel" if segment_id != "_total" else "_total", "segment_id": segment_id,
                "shift_day": day, "level_before": before, "level_after": after, "relative_change": after / before - 1,
                "z": z, "days_before": 56, "days_after": 21 if last else 61, "event": event, "last_day": last,
                "level_back": back, "days_back": 19 if last else None}
    shifts = pd.DataFrame([
        row("leads", "ppc", dt.date(2026, 5, 11), 90.0, 60.0, -9.5, dt.date(2026, 5, 31), 88.0, "Road works"),
        row("conversion_rate", "ppc", dt.date(2026, 5, 12), 0.05, 0.08, 7.1, dt.date(2026, 5, 31), 0.051),
        row("cost_per_lead", "ppc", dt.date(2026, 6, 14), 24.0, 35.0, 14.3),
    ])
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1000.0)), level_shifts=shifts))
    assert [m["metric_id"] for g in payload["level_shifts"] for m in g["metrics"]] == ["cost_per_lead"]
    (group,) = payload["episodes"]
    assert (group["from"], group["event"]) == ("2026-05-11", "Road works")
    assert [(m["metric_id"], m["to"], m["level_back"], m["days_back"]) for m in group["metrics"]] == [
        ("leads", "2026-05-31", 88.0, 19), ("conversion_rate", "2026-05-31", 0.051, 19)]
    text = render_markdown(payload, "template")
    assert ("- From 2026-05-11 (Road works): leads 90 → 60 (-33.3%) in ppc until 2026-05-31, back to 88 after "
            "(z 9.5; 21 days, 19 after); conversion_rate 5.0% → 8.0% (+3.0 pts) in ppc (from 2026-05-12) until "
            "2026-05-31, back to 5.1% after (z 7.1; 21 days, 19 after).") in text
    assert text.index("New levels") < text.index("Passing episodes")
    assert check_grounding(text, payload).ungrounded == ()
    assert "Passing episodes" not in render_markdown(build_payload(SPEC, inputs(monthly_values(1000.0))), "template")
