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
