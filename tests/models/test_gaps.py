import datetime as dt

import numpy as np
import pandas as pd

from models.briefing.gaps import ended_segment_gaps, measure_gaps, new_segments, segment_gaps, stopped_segments

THROUGH = dt.date(2026, 11, 20)


def counts(segment: str, measure: str, per_day: int, skip=(), days: int = 120, weekdays=range(7)) -> list[dict]:
    first = THROUGH - dt.timedelta(days=days - 1)
    return [{"segment_id": segment, "measure": measure, "day": first + dt.timedelta(d), "event_count": per_day}
            for d in range(days) if first + dt.timedelta(d) not in skip
            and (first + dt.timedelta(d)).weekday() in weekdays]


def test_a_measure_a_segment_stopped_sending_while_it_sent_others_is_a_gap():
    sensor_down = {dt.date(2026, 11, 10), dt.date(2026, 11, 11), dt.date(2026, 11, 12)}
    rows = (counts("s1", "sale", 300) + counts("s1", "footfall", 12, skip=sensor_down)
            + counts("s2", "sale", 300) + counts("s2", "footfall", 12, skip={dt.date(2026, 11, 15)})
            # a daily staff row missing for a week; returns never taken on Sundays, many on other days
            + counts("s2", "staff", 1, skip={THROUGH - dt.timedelta(d) for d in range(7)})
            + counts("s1", "returns", 40, weekdays=range(6)))
    found = measure_gaps(pd.DataFrame(rows), THROUGH)
    assert found["runs"] == [
        {"measure": "staff", "segment_id": "s2", "start": "2026-11-14", "end": "2026-11-20", "days": 7},
        {"measure": "footfall", "segment_id": "s1", "start": "2026-11-10", "end": "2026-11-12", "days": 3}]
    assert found["days"] == 10
    # one day off a counter with 8 weeks of history could be chance (1 in 58): not reported, as above for s2


def test_sparse_measures_new_segments_and_old_gaps_are_not_reported():
    rng = np.random.default_rng(1)
    sparse = [r for r in counts("a", "refund", 1) if rng.random() < 0.3]
    new = counts("b", "sale", 50, days=20) + counts("b", "footfall", 5, days=20, skip={THROUGH})
    old = counts("c", "sale", 50) + counts("c", "footfall", 12, skip={THROUGH - dt.timedelta(days=40)})
    found = measure_gaps(pd.DataFrame(counts("a", "sale", 80) + sparse + new + old), THROUGH)
    assert found == {"from": "2026-10-24", "through": "2026-11-20", "days": 0, "runs": []}
    assert measure_gaps(pd.DataFrame(columns=["segment_id", "measure", "day", "event_count"]), THROUGH)["runs"] == []


def test_a_segment_silent_on_its_usual_days_is_told_once_at_the_scope_that_went_silent():
    """A clinic closed 9-11 November (every department), a store whose feed stopped 14 November (a run that goes
    on over the budget's closed Sundays), beside a store closed on Saturdays, a sparse one and a new one: the
    clinic and the store are told, once each."""
    outage = {dt.date(2026, 11, 9), dt.date(2026, 11, 10), dt.date(2026, 11, 11)}
    stopped = {THROUGH - dt.timedelta(days=d) for d in range(7)}
    shop = range(6)  # the budget is closed on Sundays
    rng = np.random.default_rng(4)
    rows = (counts("south/bristol/gp", "visit", 40, skip=outage, weekdays=shop)
            + counts("south/bristol/dental", "visit", 9, skip=outage, weekdays=shop)
            + counts("south/bath/gp", "visit", 30, weekdays=shop)
            + counts("north/leeds/gp", "visit", 25, skip=stopped, weekdays=shop)
            + counts("north/york/gp", "visit", 20, weekdays=range(5))  # closed on Saturdays too
            + [r for r in counts("north/york/dental", "visit", 1, weekdays=shop) if rng.random() < 0.4]
            + counts("north/hull/gp", "visit", 30, days=20, skip={THROUGH}, weekdays=shop))
    found = segment_gaps(pd.DataFrame(rows), THROUGH)
    assert found["runs"] == [
        {"segment_id": "north/leeds", "start": "2026-11-14", "end": "2026-11-20", "days": 6, "usual_events": 25.0},
        {"segment_id": "south/bristol", "start": "2026-11-09", "end": "2026-11-11", "days": 3, "usual_events": 49.0}]
    assert found["days"] == 9
    assert segment_gaps(pd.DataFrame(columns=["segment_id", "measure", "day", "event_count"]), THROUGH)["runs"] == []


def test_a_silence_is_over_once_its_scope_sends_again():
    """What forecasts leave out: a clinic's three days closed by an outage, after which it sent again; not a
    clinic silent from Thursday to the data's last day, a Sunday the budget is closed (closed, or late: it may go
    on)."""
    outage = {dt.date(2026, 11, 9), dt.date(2026, 11, 10), dt.date(2026, 11, 11)}
    shop = range(6)  # closed on Sundays; THROUGH is a Friday
    saturday, sunday = THROUGH + dt.timedelta(days=1), THROUGH + dt.timedelta(days=2)
    open_saturday = [{"segment_id": s, "measure": "visit", "day": saturday, "event_count": 30}
                     for s in ("south/bristol/gp", "south/bath/gp", "north/york/gp")]
    rows = (counts("south/bristol/gp", "visit", 40, skip=outage, weekdays=shop)
            + counts("south/bath/gp", "visit", 30, weekdays=shop) + counts("north/york/gp", "visit", 30, weekdays=shop)
            + counts("north/leeds/gp", "visit", 25, skip={THROUGH - dt.timedelta(days=1), THROUGH}, weekdays=shop))
    frame = pd.DataFrame(rows + open_saturday)
    assert [r["segment_id"] for r in segment_gaps(frame, sunday)["runs"]] == ["north/leeds", "south/bristol"]
    assert ended_segment_gaps(frame, sunday) == [
        {"segment_id": "south/bristol", "start": "2026-11-09", "end": "2026-11-11", "days": 3, "usual_events": 40.0}]
    assert ended_segment_gaps(frame.iloc[:0], sunday) == []


def test_one_quiet_day_of_a_small_segment_is_chance_not_a_gap():
    """Three events a day: a day without any comes once in 20 (exp(-3)); three in a row would not."""
    rows = counts("a/x", "visit", 3, skip={THROUGH}) + counts("a/y", "visit", 50)
    assert segment_gaps(pd.DataFrame(rows), THROUGH)["runs"] == []
    three = {THROUGH - dt.timedelta(days=d) for d in range(3)}
    rows = counts("a/x", "visit", 3, skip=three) + counts("a/y", "visit", 50)
    assert [r["segment_id"] for r in segment_gaps(pd.DataFrame(rows), THROUGH)["runs"]] == ["a/x"]


def test_new_segments_are_the_highest_scopes_whose_first_events_came_since_a_day():
    first = pd.DataFrame({"segment_id": ["south/bristol/gp", "south/exeter/gp", "south/exeter/dental",
                                         "north/hull/gp", "north/leeds/physio", "north/leeds/gp"],
                          "first_day": [dt.date(2026, 1, 5), dt.date(2026, 9, 1), dt.date(2026, 9, 3),
                                        dt.date(2026, 1, 20), dt.date(2026, 10, 12), dt.date(2026, 1, 5)]})
    found = new_segments(first, dt.date(2026, 9, 1))
    # Exeter opened (both departments new); Leeds added physio; Hull came with the data's first weeks, and before
    assert found == {"since": "2026-09-01", "count": 2,
                     "segments": [{"segment_id": "north/leeds/physio", "first_day": "2026-10-12"},
                                  {"segment_id": "south/exeter", "first_day": "2026-09-01"}]}
    assert new_segments(first, dt.date(2026, 10, 1), max_listed=5)["segments"] == [
        {"segment_id": "north/leeds/physio", "first_day": "2026-10-12"}]
    # every segment starts with the data: none is new
    assert new_segments(first.assign(first_day=dt.date(2026, 9, 1)), dt.date(2026, 9, 1))["count"] == 0
    assert new_segments(pd.DataFrame(columns=["segment_id", "first_day"]), dt.date(2026, 9, 1))["count"] == 0


def stopped_shops():
    """Leeds closed after 31 August (both departments), Bath's feed stopped after 10 October, Ely closed over a
    year before; York and Bristol go on; Wells sends a visit one day in ten (budget closed on Sundays)."""
    shop, rng = range(6), np.random.default_rng(8)
    until = {"north/leeds/gp": dt.date(2026, 8, 31), "north/leeds/dental": dt.date(2026, 8, 31),
             "south/bath/gp": dt.date(2026, 10, 10), "east/ely/gp": dt.date(2025, 10, 1)}
    sizes = {"north/leeds/gp": 25, "north/leeds/dental": 9, "south/bath/gp": 30, "east/ely/gp": 20,
             "north/york/gp": 20, "south/bristol/gp": 40}
    rows = [r for segment, n in sizes.items() for r in counts(segment, "visit", n, days=500, weekdays=shop)
            if r["day"] <= until.get(segment, THROUGH)]
    rows += [r for r in counts("south/wells/gp", "visit", 1, days=500, weekdays=shop)
             if rng.random() < 0.1 and r["day"] < dt.date(2026, 10, 20)]
    return pd.DataFrame(rows)


def test_a_segment_silent_since_before_the_days_searched_is_told_as_stopped_at_its_highest_scope():
    rows = stopped_shops()
    last = rows.groupby("segment_id", as_index=False)["day"].max().rename(columns={"day": "last_day"})
    found = stopped_segments(last, rows, rows["day"], THROUGH)
    # Ely's year is over; Wells's one day in ten with a visit makes a month without one chance
    assert found == {"before": "2026-10-24", "count": 2, "segments": [
        {"segment_id": "south/bath", "last_day": "2026-10-10", "days": 35, "usual_events": 30.0},
        {"segment_id": "north/leeds", "last_day": "2026-08-31", "days": 70, "usual_events": 34.0}]}
    assert stopped_segments(last, rows, rows["day"], THROUGH, max_listed=1)["segments"][0]["segment_id"] == "south/bath"
    # segment_gaps searches the last 28 days against the 56 before them: Bath's silence there is left to stopped
    assert segment_gaps(rows, THROUGH)["runs"] == []
    # a leaf without events through the day covered has no last day
    assert stopped_segments(last.assign(last_day=None), rows, rows["day"], THROUGH)["count"] == 0
    assert stopped_segments(last.iloc[:0], rows, rows["day"], THROUGH)["count"] == 0
