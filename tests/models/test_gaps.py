import datetime as dt

import numpy as np
import pandas as pd

from models.briefing.gaps import measure_gaps

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
