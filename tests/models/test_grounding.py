"""The grounding check: figures in prose against payload values, at the precision shown."""

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from models.briefing.draft import DraftError, briefing_tool, parse_draft
from models.briefing.grounding import check_grounding, parse_figures
from models.briefing.payload import build_payload
from models.briefing.template import render_markdown
from tests.models.test_briefing import SPEC, inputs, monthly_values

PAYLOAD = {"revenue": 1523400.0, "change_pct": -0.1532, "customers": 1523.4, "period": {"start": "2026-10-01"},
           "note": "capacity of 150 binds", "probability": 0.62, "z": 3.41}


@pytest.mark.parametrize("text", [
    "Revenue was €1.5M", "revenue €1,523,400", "1.52 million", "1523k", "down 15.3%", "fell 15%", "+15.32%",
    "1,523.4 customers", "1,500 customers", "about 1,520", "capacity of 150", "a 62% chance", "z of 3.4",
    "since 2026-10-01", "in October 2026", "2026-10", "across 3 regions", "v3 launch in Q4",
    "a rise of 62 pts", "down 15.3 pts", "15.3pp",
])
def test_payload_figures_in_any_usual_form_are_grounded(text):
    report = check_grounding(text, PAYLOAD)
    assert report.ungrounded == () and report.ratio == 1.0


@pytest.mark.parametrize("text, bad", [
    ("revenue of 1,000,000", "1,000,000"), ("Revenue was €1.6M", "€1.6M"), ("down 15.4%", "15.4%"),
    ("1,523.5 customers", "1,523.5"), ("1,510 customers", "1,510"), ("since 2026-09-01", "2026-09-01"),
    ("back in 2019", "2019"), ("a 12 point rise", "12"), ("63% chance", "63%"), ("down 15.4 pts", "15.4 pts"),
])
def test_numbers_the_payload_does_not_hold_are_listed(text, bad):
    assert check_grounding(text, PAYLOAD).ungrounded == (bad,)


def test_ratio_counts_every_figure():
    report = check_grounding("€1.5M, 62%, 1,000,000 and 7.77", PAYLOAD)
    assert report.figures == ("€1.5M", "62%", "1,000,000", "7.77") and report.ratio == 0.5
    assert check_grounding("no figures at all", PAYLOAD).ratio == 1.0


def test_parsing_reads_precision_from_the_text():
    (a, b, c), dates = parse_figures("1.50M, 1,500 and 2,000,000 on 2026-01-31")
    assert dates == ["2026-01-31"]
    assert (a.value, a.tolerance) == (1.5e6, pytest.approx(5e3))
    assert (b.value, b.tolerance) == (1500, 50)  # trailing zeros: rounded to two significant digits at most
    assert (c.value, c.tolerance) == (2e6, 50_000)


def test_the_template_cites_only_payload_figures():
    payload = build_payload(SPEC, inputs(monthly_values(1500.0)))
    report = check_grounding(render_markdown(payload, "deterministic template"), payload)
    assert report.ungrounded == () and len(report.figures) > 20


def test_a_rate_told_in_points_is_grounded():
    """A conversion rate's new level, from 5.3% to 20.8%, is told as +15.5 pts: the payload's change of 0.155."""
    shift = {"budget_id": SPEC.id, "grain": "month", "period_start": dt.date(2026, 6, 1),
             "metric_id": "conversion_rate", "segment_level": "channel", "segment_id": "ppc",
             "shift_day": dt.date(2026, 6, 15), "level_before": 0.053, "level_after": 0.208,
             "relative_change": 0.208 / 0.053 - 1, "z": 10.4, "days_before": 56, "days_after": 61, "event": None}
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)),
                                                      level_shifts=pd.DataFrame([shift])))
    text = render_markdown(payload, "deterministic template")
    report = check_grounding(text, payload)
    assert "(+15.5 pts)" in text and "15.5 pts" in report.figures and report.ungrounded == ()


def test_the_draft_schema_is_self_contained_and_validated():
    schema = briefing_tool()["input_schema"]
    assert "$ref" not in str(schema)
    payload = build_payload(SPEC, inputs(monthly_values(1500.0)))
    ok = {"headline": "h", "sections": [{"title": "t", "body": "b"}], "recommendations": [
        {"text": "r", "metric_id": "leads", "classification": {"kind": "action", "type": "quality", "detail": "above_par"}}]}
    assert parse_draft(ok, payload).recommendations[0].classification.detail == "above_par"
    with pytest.raises(DraftError, match="not in the payload: churn"):
        parse_draft({**ok, "recommendations": [{**ok["recommendations"][0], "metric_id": "churn"}]}, payload)
    with pytest.raises(DraftError, match="headline: Field required"):
        parse_draft({"sections": ok["sections"]}, payload)
    with pytest.raises(DraftError, match="extra_key"):
        parse_draft({**ok, "extra_key": 1}, payload)
