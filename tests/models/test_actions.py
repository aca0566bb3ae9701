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
