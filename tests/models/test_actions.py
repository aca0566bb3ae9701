import datetime as dt
import json

import pandas as pd
import pytest

from models.actions import action_key, evaluate_rules
from models.spec import SpecError, parse_spec
from tests.models.test_spec import VALID


def spec(rules):
    return parse_spec({**VALID, "rules": rules}, "shop.yaml")


def values(rows):
    return pd.DataFrame([{"grain": "week", "segment_level": "channel", "is_complete": True, **r} for r in rows])


WEEK1, WEEK2 = dt.date(2026, 3, 2), dt.date(2026, 3, 9)
HISTORY = values([
    {"metric_id": "conversion", "period_start": WEEK1, "segment_id": "web", "value": 0.001},
    {"metric_id": "conversion", "period_start": WEEK2, "segment_id": "web", "value": 0.005},
    {"metric_id": "conversion", "period_start": WEEK2, "segment_id": "mail", "value": 0.05},
    {"metric_id": "conversion", "period_start": WEEK2, "segment_id": "tv", "value": None},
])
RULE = {"id": "weak", "when": "conversion < 0.01", "scope": {"level": "channel"}, "period": "week",
        "action": {"type": "allocate", "target": "web", "amount": -500}}


def test_rules_fire_on_the_latest_complete_period_only_where_the_condition_holds():
    fired = evaluate_rules(spec([RULE]), HISTORY)
    assert list(fired["segment_id"]) == ["web"]  # mail is fine; tv's value is missing: unknown fires nothing
    row = fired.iloc[0]
    assert row["period_start"] == WEEK2 and json.loads(row["trigger_values"]) == {"conversion": 0.005}
    assert (row["class_kind"], row["class_type"], row["class_detail"]) == ("action", "quantity", "more")
    assert row["action_key"] == action_key("shop", "weak", "week", pd.Timestamp(WEEK2), "web")


def test_incomplete_periods_do_not_fire():
    history = HISTORY.copy()
    history.loc[history["period_start"] == WEEK2, "is_complete"] = False
    fired = evaluate_rules(spec([RULE]), history)
    assert list(fired["period_start"]) == [WEEK1]


def test_declared_classification_is_kept_and_validated():
    rule = {**RULE, "action": {"type": "flag"}, "classify": {"kind": "decision", "type": "programmed", "detail": "focus"}}
    assert evaluate_rules(spec([rule]), HISTORY).iloc[0]["class_detail"] == "focus"
    with pytest.raises(SpecError, match="rules.0.classify: .*decision/programmed takes detail focus or remove"):
        spec([{**rule, "classify": {"kind": "decision", "type": "programmed", "detail": "best"}}])
    with pytest.raises(SpecError, match="a decision cannot be of type quality"):
        spec([{**rule, "classify": {"kind": "decision", "type": "quality", "detail": "best"}}])


def test_rule_metrics_lists_what_the_conditions_read():
    from models.actions import rule_metrics

    rules = [RULE, {**RULE, "id": "busy", "when": "visits > 10 and orders / visits < 0.2"}]
    assert rule_metrics(spec(rules)) == ["conversion", "orders", "visits"]


def test_a_daily_rule_under_a_weekly_report_is_evaluated_on_every_day_the_report_covers():
    """A site failing on Thursday is logged although Saturday, the latest day, is fine; days before the latest
    complete week are not evaluated (a backfill logs no breach nobody saw)."""
    rule = {"id": "busy", "when": "conversion > 0.5", "scope": {"level": "channel"}, "period": "day",
            "action": {"type": "notify", "message": "busy"}}
    days = [dt.date(2026, 3, 1) + dt.timedelta(d) for d in range(21)]  # Sunday 1 March to Saturday 21 March
    high = {dt.date(2026, 3, 5), dt.date(2026, 3, 12), dt.date(2026, 3, 19)}  # Thursdays
    rows = [{"metric_id": "conversion", "grain": "day", "period_start": d, "segment_id": "web",
             "value": 0.9 if d in high else 0.1} for d in days]
    rows += [{"metric_id": "conversion", "grain": "week", "period_start": w, "segment_id": "web", "value": 0.2}
             for w in (dt.date(2026, 3, 2), dt.date(2026, 3, 9))]  # the week of the 16th is not complete
    weekly = spec([rule]).model_copy(update={"reporting_grain": "week"})
    fired = evaluate_rules(weekly, values(rows))
    assert list(fired["period_start"]) == [dt.date(2026, 3, 12), dt.date(2026, 3, 19)]
    from models.actions import rule_window
    assert rule_window(values(rows), "day", "week") == dt.date(2026, 3, 9)
    assert rule_window(values(rows), "week", "day") == dt.date(2026, 3, 9)  # a coarser rule: its latest period
    assert rule_window(values(rows), "month", "week") is None


def test_a_segment_without_events_in_a_period_counts_zero_for_a_rule_on_a_count():
    """A store closed for renovation has no row on its closed days: 'visits < 100' fires for it (0), not only for
    the stores open but quiet; a store first seen later gets no zero before it opened, and an average of
    nothing (revenue / orders) stays undecided."""
    rule = {"id": "quiet", "when": "visits < 100", "scope": {"level": "channel"}, "period": "week",
            "action": {"type": "notify", "message": "quiet"}}
    rows = [{"metric_id": "visits", "period_start": WEEK1, "segment_id": s, "value": 500.0} for s in ("web", "mail")]
    rows += [{"metric_id": "visits", "period_start": WEEK2, "segment_id": "mail", "value": 80.0},
             {"metric_id": "visits", "period_start": WEEK2, "segment_id": "tv", "value": 300.0}]
    fired = evaluate_rules(spec([rule]), values(rows))
    assert list(zip(fired["segment_id"], fired["trigger_values"])) == [("mail", '{"visits": 80.0}'),
                                                                       ("web", '{"visits": 0.0}')]
    # a daily rule under a weekly report: a channel opened on Thursday gets no zeros for Monday to Wednesday
    daily = {**rule, "period": "day"}
    days = [dt.date(2026, 3, 2) + dt.timedelta(d) for d in range(7)]  # Monday 2 March .. Sunday 8 March
    rows = [{"metric_id": "visits", "grain": "day", "period_start": d, "segment_id": "web", "value": 500.0} for d in days]
    rows += [{"metric_id": "visits", "grain": "day", "period_start": d, "segment_id": "tv", "value": 500.0}
             for d in days[3:]]
    rows += [{"metric_id": "visits", "grain": "week", "period_start": days[0], "segment_id": "web", "value": 3500.0}]
    weekly = spec([daily]).model_copy(update={"reporting_grain": "week"})
    assert evaluate_rules(weekly, values(rows)).empty
    aov = {**rule, "id": "cheap", "when": "aov < 10"}
    assert evaluate_rules(spec([aov]), values([{"metric_id": "aov", "period_start": WEEK1, "segment_id": "web",
                                                "value": 50.0}, {"metric_id": "aov", "period_start": WEEK2,
                                                                 "segment_id": "mail", "value": 50.0}])).empty


def test_a_daily_rule_does_not_fire_on_the_days_a_segment_never_opens():
    """Closed on Sundays for ten weeks: 'visits < 100' is about bad days, and a Sunday of nothing is none; a
    Tuesday with no events at a channel open on Tuesdays is still a 0 that fires."""
    rule = {"id": "quiet", "when": "visits < 100", "scope": {"level": "channel"}, "period": "day",
            "action": {"type": "notify", "message": "quiet"}}
    days = [dt.date(2026, 1, 5) + dt.timedelta(d) for d in range(70)]  # Monday 5 January .. Sunday 15 March
    silent = dt.date(2026, 3, 10)  # a Tuesday without events
    rows = [{"metric_id": "visits", "grain": "day", "period_start": d, "segment_id": "web", "value": 500.0}
            for d in days if d.weekday() != 6 and d != silent]
    rows += [{"metric_id": "visits", "grain": "week", "period_start": d, "segment_id": "web", "value": 3000.0}
             for d in days if d.weekday() == 0]
    weekly = spec([rule]).model_copy(update={"reporting_grain": "week"})
    fired = evaluate_rules(weekly, values(rows))
    assert list(zip(fired["period_start"], fired["trigger_values"])) == [(silent, '{"visits": 0.0}')]


def test_a_daily_rule_does_not_fire_for_a_segment_that_has_left():
    """'mail' last had events on 22 February: by the week of 9 March it has been silent longer than it ever was
    (and than two weeks), so it has left and fires nothing; 'tv', silent since 5 March, still counts its 0s."""
    rule = {"id": "quiet", "when": "visits < 100", "scope": {"level": "channel"}, "period": "day",
            "action": {"type": "notify", "message": "quiet"}}
    days = [dt.date(2026, 1, 5) + dt.timedelta(d) for d in range(70)]  # Monday 5 January .. Sunday 15 March
    last = {"web": days[-1], "mail": dt.date(2026, 2, 22), "tv": dt.date(2026, 3, 4)}
    rows = [{"metric_id": "visits", "grain": "day", "period_start": d, "segment_id": s, "value": 500.0}
            for s, until in last.items() for d in days if d <= until]
    rows += [{"metric_id": "visits", "grain": "week", "period_start": d, "segment_id": "web", "value": 3500.0}
             for d in days if d.weekday() == 0]
    fired = evaluate_rules(spec([rule]).model_copy(update={"reporting_grain": "week"}), values(rows))
    assert list(zip(fired["segment_id"], fired["period_start"])) == [("tv", days[-7 + i]) for i in range(7)]


def test_a_day_without_any_events_counts_zero_as_the_warehouse_gives_its_dates():
    """Days as the warehouse returns them (datetime64): on 4 March no channel had events, so no row exists that
    day; 'visits < 100' fires for it with 0, and not for the days that have their rows (whose dates must match
    the filled ones, or each would be filled again with a 0)."""
    rule = {"id": "quiet", "when": "visits < 100", "scope": {"level": "channel"}, "period": "day",
            "action": {"type": "notify", "message": "quiet"}}
    days = [dt.date(2026, 3, 2) + dt.timedelta(d) for d in range(7) if d != 2]  # Monday 2 .. Sunday 8 March
    rows = pd.DataFrame([{"grain": "day", "segment_level": "channel", "is_complete": True, "metric_id": "visits",
                          "period_start": d, "segment_id": "web", "value": 500.0} for d in days]
                        + [{"grain": "week", "segment_level": "channel", "is_complete": True, "metric_id": "visits",
                            "period_start": dt.date(2026, 3, 2), "segment_id": "web", "value": 3000.0}])
    rows["period_start"] = pd.to_datetime(rows["period_start"])
    fired = evaluate_rules(spec([rule]).model_copy(update={"reporting_grain": "week"}), rows)
    assert list(zip(fired["period_start"], fired["trigger_values"])) == [(dt.date(2026, 3, 4), '{"visits": 0.0}')]
