"""The briefing's inputs read from the warehouse: the segments' spans and the days before a segment stopped."""

import datetime as dt

import duckdb
import pandas as pd

from assets.briefing_assets import segment_spans
from models.briefing.gaps import USUAL_DAYS, stopped_segments
from tests.assets.conftest import make_spec
from tests.models.test_gaps import THROUGH, stopped_shops


def test_the_days_before_a_stop_are_read_for_the_leaves_silent_since_before_the_days_searched(tmp_path):
    rows = stopped_shops()
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    other = rows.assign(budget_id="other", segment_id="x/" + rows["segment_id"])
    digests = pd.concat([rows.assign(budget_id="shop"), other,
                         # a later day than the period's end: not a last day of the briefing's
                         pd.DataFrame([{"segment_id": "south/bath/gp", "measure": "visit", "budget_id": "shop",
                                        "day": THROUGH + dt.timedelta(days=3), "event_count": 5}])])
    conn.execute("create table main.fct_digest_daily as select budget_id, segment_id, measure, day::date as day, "
                 "event_count from digests")
    read = segment_spans(conn, make_spec(), THROUGH + dt.timedelta(days=1))
    spans, before = read["segment_spans"], read["before_stop"]
    assert spans.loc[spans["segment_id"] == "south/bath/gp", "last_day"].item() == pd.Timestamp("2026-10-10")
    assert set(before["segment_id"]) == {"north/leeds/gp", "north/leeds/dental", "south/bath/gp", "south/wells/gp",
                                         "east/ely/gp"}
    last = before.groupby("segment_id")["day"].transform("max")
    assert ((last - before["day"]).dt.days < USUAL_DAYS).all()
    full = rows.groupby("segment_id", as_index=False)["day"].max().rename(columns={"day": "last_day"})
    assert stopped_segments(spans, before, rows["day"], THROUGH) == stopped_segments(full, rows, rows["day"], THROUGH)
    assert stopped_segments(spans, before, rows["day"], THROUGH)["count"] == 2
    assert segment_spans(conn, make_spec(), None)["before_stop"].empty
