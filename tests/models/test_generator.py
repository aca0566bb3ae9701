import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.demo.generator import generate_day, ground_truth, iter_days, scale_for_events
from models.demo.scenarios import PLANTED, SCENARIOS
from models.spec import load_specs
from assets.settings import DEMO_SPECS

DAY = dt.date(2026, 3, 3)


def test_same_seed_same_rows_and_another_seed_differs():
    a = generate_day("marketing_acquisition", DAY, seed=7)
    b = generate_day("marketing_acquisition", DAY, seed=7)
    c = generate_day("marketing_acquisition", DAY, seed=8)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.events.equals(c.events)


def test_a_day_is_the_same_alone_or_inside_a_range():
    alone = generate_day("customer_support", DAY, seed=3)
    ranged = list(iter_days("customer_support", DAY - dt.timedelta(days=2), DAY + dt.timedelta(days=1), seed=3))[-1]
    pd.testing.assert_frame_equal(alone.events, ranged.events)
    pd.testing.assert_frame_equal(alone.documents, ranged.documents)


def test_events_match_their_spec():
    specs = {s.id: s for s in load_specs(DEMO_SPECS)}
    for budget, scenario in SCENARIOS.items():
        spec = specs[budget]
        batch = generate_day(budget, DAY)
        assert list(batch.events.columns) == ["timestamp", "measure", "value", "event_id", *spec.segments.levels]
        assert set(batch.events["measure"]) <= set(spec.measures)
        assert batch.events["event_id"].is_unique
        ordered = batch.events.sort_values(["timestamp", "measure"], kind="stable", ignore_index=True)
        pd.testing.assert_frame_equal(batch.events, ordered)  # ids number the rows in time order
        assert (batch.events["timestamp"].dt.date == DAY).all()
        for name, measure in spec.measures.items():
            values = batch.events.loc[batch.events["measure"] == name, "value"]
            if measure.min is not None:
                assert (values >= measure.min).all(), name
            if measure.max is not None:
                assert (values <= measure.max).all(), name


def test_a_day_without_events_has_the_columns_and_types_of_any_other():
    busy, empty = generate_day("customer_support", DAY), generate_day("customer_support", DAY, scale=1e-9)
    assert len(empty.events) == len(empty.documents) == 0
    assert empty.events.dtypes.to_dict() == busy.events.dtypes.to_dict()
    assert empty.documents.dtypes.to_dict() == busy.documents.dtypes.to_dict()


def test_scale_knob_scales_volume():
    small = sum(len(generate_day("product_delivery", DAY + dt.timedelta(days=i), scale=0.5).events) for i in range(5))
    large = sum(len(generate_day("product_delivery", DAY + dt.timedelta(days=i), scale=5).events) for i in range(5))
    assert 7 < large / small < 13
    budgets = list(SCENARIOS)
    scale = scale_for_events(1_000_000, budgets, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert 0.5 < scale < 3


def _daily_mean(budget, measure, start, days, column="value"):
    frames = [b.events for b in iter_days(budget, start, start + dt.timedelta(days=days))]
    events = pd.concat(frames)
    return events.loc[events["measure"] == measure, column].mean()


def test_planted_price_change_is_in_the_data():
    planted = next(p for p in PLANTED if p.phenomenon == "component_change" and p.budget == "marketing_acquisition")
    before = _daily_mean("marketing_acquisition", "unit_price", planted.start - dt.timedelta(days=14), 14)
    after = _daily_mean("marketing_acquisition", "unit_price", planted.start, 14)
    assert after / before == pytest.approx(1 + planted.magnitude, abs=0.02)


def test_planted_outage_shock_hits_ppc_leads():
    planted = next(p for p in PLANTED if p.phenomenon == "event_shock" and p.budget == "marketing_acquisition")
    def ppc_leads(day):
        events = generate_day("marketing_acquisition", day).events
        return ((events["measure"] == "lead") & (events["channel"] == "ppc")).sum()
    normal = np.mean([ppc_leads(planted.start - dt.timedelta(days=7 * k)) for k in (1, 2, 3)])
    assert ppc_leads(planted.start) < 0.3 * normal


def test_ground_truth_lists_every_kind_of_phenomenon():
    truth = ground_truth()
    kinds = {p["phenomenon"] for p in truth["phenomena"]}
    assert kinds == {"event_shock", "mix_shift", "component_change", "influence_change", "sentiment_shift",
                     "sentiment_conflict"}
    assert all(p["budget"] in SCENARIOS for p in truth["phenomena"])


def test_ticket_bodies_follow_planted_sentiment():
    docs = generate_day("customer_support", DAY).documents
    assert len(docs) > 10 and docs["doc_id"].is_unique
    assert docs["text"].str.startswith("Customer reports that").all()
