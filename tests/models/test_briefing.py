import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from assets.settings import DEMO_SPECS
from models.briefing.payload import BriefingInputs, build_payload, days_without_events, latest_complete_period
from models.briefing.template import (BASELINE_WORDS, _narrated_changes, fmt, fmt_change, fmt_delta, fmt_share,
                                      render_markdown)
from models.drift.materiality import change_materiality
from models.spec import load_spec

SPEC = load_spec(DEMO_SPECS / "marketing_acquisition.yaml")


def monthly_values(last_new_customers: float) -> pd.DataFrame:
    months = pd.date_range("2025-01-01", "2026-06-01", freq="MS")
    rows = []
    for metric_id in SPEC.metrics:
        for i, month in enumerate(months):
            value = 1000 + 10 * (-1) ** i  # steady wobble: every change is ordinary
            if metric_id == "new_customers" and i == len(months) - 1:
                value = last_new_customers
            rows.append({"metric_id": metric_id, "grain": "month", "period_start": month.date(), "value": value,
                         "null_reason": None, "is_complete": i < len(months) - 1 or True})
    days = pd.date_range("2026-05-01", "2026-06-30", freq="D")
    for day in days:
        rows.append({"metric_id": "new_customers", "grain": "day", "period_start": day.date(), "value": 50.0,
                     "null_reason": None, "is_complete": True})
    return pd.DataFrame(rows)


def inputs(values: pd.DataFrame) -> BriefingInputs:
    rankings = pd.DataFrame(columns=["metric_id", "segment_level", "segment_id", "value", "rank_best", "rank_worst",
                                     "segments_ranked", "is_top", "is_bottom"])
    events = pd.DataFrame([{"event_date": dt.date(2026, 6, 1), "end_date": dt.date(2026, 6, 1), "name": "Price up",
                            "kind": "price_change", "segment_level": None, "segment_value": None}])
    quality = {"received": 10, "loaded": 9, "quarantined": 1, "top_reasons": [{"reason": "value missing", "rows": 1}],
               "last_event": "2026-06-30T23:00:00"}
    return BriefingInputs(values, rankings, quality, events)


def test_north_star_jump_is_notable_and_noise_is_not():
    payload = build_payload(SPEC, inputs(monthly_values(1500.0)))
    assert payload["period"]["start"] == "2026-06-01"
    star = payload["metrics"][0]
    assert star["metric_id"] == "new_customers" and star["is_north_star"]
    assert star["assessment"] == "improved" and star["provenance"] == "observed"
    assert star["change"] == pytest.approx(1500.0 - star["previous_value"])
    others = [m for m in payload["metrics"] if not m["is_north_star"]]
    assert all(m["assessment"] == "within normal variation" for m in others)
    assert payload["known_events"][0]["name"] == "Price up"


def test_a_last_day_held_open_is_told_as_cut_short():
    """The warehouse holds 30 June open though it has events (cut short at the source): the period line and
    the data quality say so. The LLM ledger's system metrics run on their own days and do not count."""
    values = monthly_values(1000.0).assign(provenance="observed")
    last = (values["grain"] == "day") & (values["period_start"] == dt.date(2026, 6, 30))
    whole = render_markdown(build_payload(SPEC, inputs(values)), "template")
    assert "cut short" not in whole
    ledger = pd.DataFrame([{"metric_id": "llm_calls", "grain": "day", "period_start": dt.date(2026, 6, 30),
                            "value": 3.0, "null_reason": None, "is_complete": True, "provenance": "system"}])
    values = pd.concat([values.assign(is_complete=values["is_complete"] & ~last), ledger], ignore_index=True)
    payload = build_payload(SPEC, inputs(values))
    assert payload["period"]["last_day_cut_short"] and payload["period"]["data_through"] == "2026-06-30"
    text = render_markdown(payload, "template")
    assert "(data through 2026-06-30, a day cut short)" in text and "The day 2026-06-30 is cut short" in text


def test_a_drop_in_a_favourable_up_metric_is_worsened():
    payload = build_payload(SPEC, inputs(monthly_values(500.0)))
    assert payload["metrics"][0]["assessment"] == "worsened"


def test_a_change_with_too_little_history_is_not_judged():
    values = monthly_values(1500.0)
    recent = values[(values["grain"] != "month") | (pd.to_datetime(values["period_start"]) >= "2026-03-01")]
    payload = build_payload(SPEC, inputs(recent))
    star = payload["metrics"][0]
    assert star["change"] == pytest.approx(490.0) and star["change_z"] is None
    assert star["assessment"] == "too little history to judge"
    text = render_markdown(payload, "template")
    assert "(too little history to judge)" in text
    # none of the others could be judged either: the summary does not say they stayed within their variation
    assert {f["assessment"] for f in payload["metrics"][1:]} <= {"too little history to judge", "not comparable"}
    assert "The other metrics' changes have too little history to judge yet." in text
    assert "No other metric moved" not in text
    assert "No other metric moved beyond its normal period-to-period variation." in render_markdown(
        build_payload(SPEC, inputs(monthly_values(1500.0))), "template")


def test_the_table_judges_a_change_by_the_drift_stage_rule():
    payload = build_payload(SPEC, inputs(monthly_values(1100.0)))
    star = payload["metrics"][0]
    history = [1000 + 10 * (-1) ** i for i in range(17)]  # the months before the reported one
    z, verdict = change_materiality(history, star["change"])
    assert star["change_z"] == pytest.approx(round(z, 2)) and verdict == "material"
    assert star["assessment"] == "improved"


@pytest.mark.parametrize("grain, period, year_ago", [
    ("week", dt.date(2026, 11, 16), dt.date(2025, 11, 17)),   # 52 weeks back: a Monday, as every week start
    ("day", dt.date(2026, 11, 16), dt.date(2025, 11, 17)),    # 364 days back: the same weekday
    ("month", dt.date(2026, 11, 1), dt.date(2025, 11, 1)),
])
def test_the_year_ago_column_is_the_drift_stages_year_ago_period(grain, period, year_ago):
    starts = {"week": pd.date_range("2025-06-02", period, freq="W-MON"), "day": pd.date_range("2025-06-01", period),
              "month": pd.date_range("2025-06-01", period, freq="MS")}[grain]
    rows = [{"metric_id": m, "grain": grain, "period_start": d.date(), "value": 100.0 + (d.date() == year_ago) * 20
             + (d.date() == period) * 50, "null_reason": None, "is_complete": True} for m in SPEC.metrics for d in starts]
    star = build_payload(SPEC, inputs(pd.DataFrame(rows)))["metrics"][0]
    assert star["value"] == 150.0 and star["year_ago_value"] == 120.0 and star["year_ago_change"] == 30.0


def test_goal_pace_from_observed_days():
    payload = build_payload(SPEC, inputs(monthly_values(1000.0)))
    goal = next(g for g in payload["goals"] if g["goal_id"] == "customers_h2_2026")
    assert goal["status"] == "not started"  # the goal starts 2026-07-01, data ends 2026-06-30


@pytest.mark.parametrize("favourable, target, status", [
    ("up", 4000.0, "on track"), ("up", 5000.0, "behind"),          # a target to reach
    ("down", 4000.0, "over pace"), ("down", 5000.0, "on track"),   # a ceiling to stay under
])
def test_a_goal_under_way_is_behind_its_target_or_over_a_ceilings_pace(favourable, target, status):
    from models.spec import Goal

    # new_customers: 50 a day in May and June 2026, 3,050 in 61 of the goal's 92 days: 4,600 at that pace
    goal = Goal(id="q", metric="new_customers", target=target, start=dt.date(2026, 5, 1), deadline=dt.date(2026, 7, 31))
    metric = SPEC.metrics["new_customers"].model_copy(update={"favourable": favourable})
    spec = SPEC.model_copy(update={"goals": [goal], "metrics": {**SPEC.metrics, "new_customers": metric}})
    payload = build_payload(spec, inputs(monthly_values(1000.0)))
    assert payload["goals"][0]["status"] == status and payload["goals"][0]["actual_so_far"] == 3050.0
    summary = render_markdown(payload, "template")
    assert (f"Off pace: q ({status})." in summary) == (status != "on track")


def test_a_goal_s_figure_so_far_is_its_window_s_value_the_way_goal_tracking_computes_it():
    from models.goals import observed_to_date
    from models.spec import Goal

    # May-June 2026: 1,000 EUR and 40 leads a day, ad groups a and b active on even days, b and c on odd days
    days = pd.date_range("2026-05-01", "2026-06-30").date
    daily = [{"metric_id": m, "grain": "day", "period_start": d, "value": v, "null_reason": None, "is_complete": True}
             for d in days for m, v in (("spend", 1000.0), ("leads", 40.0), ("cost_per_lead", 25.0),
                                        ("active_ad_groups", 2.0))]
    members = pd.DataFrame([{"metric_id": "active_ad_groups", "period_start": d, "member": m}
                            for d in days for m in (("a", "b") if d.day % 2 == 0 else ("b", "c"))])
    window = {"start": dt.date(2026, 5, 1), "deadline": dt.date(2026, 7, 31)}
    goals = [Goal(id="cpl", metric="cost_per_lead", target=30.0, **window),        # a ceiling on a ratio
             Goal(id="groups", metric="active_ad_groups", target=3.0, direction="at_least", **window)]
    spec = SPEC.model_copy(update={"goals": goals})
    values = pd.concat([monthly_values(1000.0), pd.DataFrame(daily)], ignore_index=True)
    payload = build_payload(spec, dataclasses.replace(inputs(values), daily_members=members))
    cpl, groups = (next(g for g in payload["goals"] if g["goal_id"] == i) for i in ("cpl", "groups"))
    # a ratio's window is its inputs' window values' ratio, not the days' ratios added up (1,525 over 61 days),
    # and it is not taken at a linear pace (2,299 EUR a lead by July's end): under its ceiling, on track
    assert cpl["actual_so_far"] == pytest.approx(25.0) and cpl["status"] == "on track"
    # a distinct count's window counts each ad group once: 3, not its days' 2 each (nor their 122 added up)
    assert groups["actual_so_far"] == 3.0 and groups["status"] == "on track"
    day_rows = pd.DataFrame(daily)
    for goal, shown in zip(goals, (cpl, groups)):  # the figure goal_tracking reports, from the same rows
        assert shown["actual_so_far"] == pytest.approx(
            observed_to_date(spec, goal, day_rows, dt.date(2026, 6, 30), None, members))


@pytest.mark.parametrize("target, status", [(1000.0, "achieved"), (5000.0, "missed")])
def test_a_goal_past_its_deadline_is_achieved_or_missed_not_on_pace(target, status):
    import json
    import math

    from models.spec import Goal

    # new_customers is 50 a day in May and June 2026: 1,550 over May; the data runs to 2026-06-30
    spec = SPEC.model_copy(update={"goals": [Goal(id="may", metric="new_customers", target=target,
                                                  start=dt.date(2026, 5, 1), deadline=dt.date(2026, 5, 31))]})
    tracking = pd.DataFrame([{"goal_id": "may", "kind": "goal", "metric_id": "new_customers", "direction": "at_least",
                              "window_start": pd.Timestamp("2026-05-01"), "target": target,
                              "deadline": pd.Timestamp("2026-05-31"), "projected": 1550.0, "projected_lo95": 1550.0,
                              "projected_hi95": 1550.0, "probability": float(status == "achieved"), "gap": 0.0,
                              "status": status, "required_daily_rate": None, "current_daily_rate": None,
                              "binding_input": math.nan}])  # a finished goal has no binding input
    payload = build_payload(spec, BriefingInputs(**{**inputs(monthly_values(1000.0)).__dict__,
                                                    "goal_tracking": tracking}))
    observed = next(g for g in payload["goals"] if g["goal_id"] == "may")
    assert observed["status"] == status and observed["actual_so_far"] == 1550.0
    assert payload["what_will_happen"]["goals"][0]["binding_input"] is None
    json.dumps(payload, allow_nan=False, default=str)  # strict JSON: no NaN reaches the file or the LLM
    text = render_markdown(payload, "template")
    assert f"| {status} |" in text and "| observed 1,550 |" in text and "predicted 1,550" not in text


@pytest.mark.parametrize("metric, rate, expected", [
    ("new_customers", 60.0, "- **q4** needs 60 per day from here; the last 28 days ran at 50 per day."),
    ("spend", 60.0, "- **q4** stays within its ceiling at up to €60 per day from here; the last 28 days ran at €50 per day."),
    ("spend", -5.0, "- **q4** is already past its ceiling of €5,000; the last 28 days ran at €50 per day."),
])
def test_the_run_rate_of_a_ceiling_is_an_allowance_not_a_need(metric, rate, expected):
    from models.spec import Goal

    ceiling = {**SPEC.metrics, "spend": SPEC.metrics["spend"].model_copy(update={"favourable": "down"})}
    spec = SPEC.model_copy(update={"metrics": ceiling, "goals": [Goal(id="q4", metric=metric, target=5000.0,
                                                                      start=dt.date(2026, 6, 1),
                                                                      deadline=dt.date(2026, 12, 31))]})
    tracking = pd.DataFrame([{"goal_id": "q4", "kind": "goal", "metric_id": metric,
                              "direction": "at_most" if metric == "spend" else "at_least",
                              "window_start": pd.Timestamp("2026-06-01"), "target": 5000.0,
                              "deadline": pd.Timestamp("2026-12-31"), "projected": 4000.0, "projected_lo95": 3000.0,
                              "projected_hi95": 5000.0, "probability": 0.5, "gap": 1000.0, "status": "at_risk",
                              "required_daily_rate": rate, "current_daily_rate": 50.0, "binding_input": metric}])
    payload = build_payload(spec, BriefingInputs(**{**inputs(monthly_values(1000.0)).__dict__, "goal_tracking": tracking}))
    assert expected in render_markdown(payload, "template")


def test_latest_complete_period_skips_incomplete():
    values = monthly_values(1000.0)
    values.loc[values["period_start"] == dt.date(2026, 6, 1), "is_complete"] = False
    assert latest_complete_period(values, "month") == dt.date(2026, 5, 1)


def test_days_without_events_are_counted_and_the_latest_runs_listed():
    days = pd.Series(pd.date_range("2026-05-01", "2026-06-30", freq="D"))
    gone = {dt.date(2026, 5, 3), dt.date(2026, 5, 10), dt.date(2026, 5, 11), dt.date(2026, 5, 12),
            dt.date(2026, 6, 2), dt.date(2026, 6, 3)}
    kept = days[~days.dt.date.isin(gone)]
    found = days_without_events(pd.concat([kept, kept]), dt.date(2026, 6, 1), dt.date(2026, 7, 1), max_runs=2)
    assert found == {"days_without_events": 6, "closed_days": 0, "closed_weekdays": [],
                     "days_without_events_in_period": 2, "latest_gaps": [
        {"start": "2026-06-02", "end": "2026-06-03", "days": 2}, {"start": "2026-05-10", "end": "2026-05-12", "days": 3}]}
    assert days_without_events(kept.iloc[:0], dt.date(2026, 6, 1), dt.date(2026, 7, 1))["days_without_events"] == 0


def test_days_a_business_is_closed_are_told_apart_from_days_a_source_may_have_missed():
    # a ledger posting on weekdays only, not on England's bank holidays, and missing Tuesday 2026-06-09
    holidays = [dt.date(2026, 4, 3), dt.date(2026, 4, 6), dt.date(2026, 5, 4), dt.date(2026, 5, 25)]
    days = pd.Series([d for d in pd.date_range("2026-03-02", "2026-06-30", freq="D")
                      if d.weekday() < 5 and d.date() not in holidays and d.date() != dt.date(2026, 6, 9)])
    found = days_without_events(days, dt.date(2026, 6, 1), dt.date(2026, 7, 1), holidays=holidays)
    assert (found["days_without_events"], found["closed_days"], found["closed_weekdays"]) == (
        34 + 4 + 1, 34 + 4, ["Saturday", "Sunday"])  # Monday 2 March to Tuesday 30 June: 17 weekends
    assert found["days_without_events_in_period"] == 1
    assert found["latest_gaps"] == [{"start": "2026-06-09", "end": "2026-06-09", "days": 1}]
    payload = build_payload(SPEC, inputs(monthly_values(1500.0)))
    payload["data_quality"].update(found)
    assert ("- Days with no events at all: 39, of which 38 on the weekdays it is closed (Saturday and Sunday) or "
            "public holidays, as usual; 1 other day (latest: 2026-06-09); 1 of them in this period, counted as 0 "
            "in its counts and sums") in render_markdown(payload, "template")
    payload["data_quality"]["closed_weekdays"] = ["Monday", "Saturday", "Sunday"]
    assert "closed (Monday, Saturday and Sunday) or public" in render_markdown(payload, "template")


def test_a_period_with_days_without_events_names_them_and_how_they_count():
    values = monthly_values(1500.0)
    values = values[values["period_start"] != dt.date(2026, 6, 9)]
    text = render_markdown(build_payload(SPEC, inputs(values)), "template")
    assert ("Days with no events at all: 1 (latest: 2026-06-09); 1 of them in this period, counted as 0 in its "
            "counts and sums (a quiet day, or a source that was late: re-run those days when its files land).") in text
    complete = render_markdown(build_payload(SPEC, inputs(monthly_values(1500.0))), "template")
    assert "Days with no events" not in complete


def test_a_measure_a_segment_stopped_sending_is_named_in_data_quality():
    """A door counter at north/n1 silent from 24 to 26 June while the tills rang: the briefing names it."""
    days = pd.date_range("2026-03-01", "2026-06-30", freq="D").date
    rows = [{"segment_id": "north/n1", "measure": m, "day": d, "event_count": n}
            for d in days for m, n in (("sale", 300), ("footfall", 12))
            if not (m == "footfall" and dt.date(2026, 6, 24) <= d <= dt.date(2026, 6, 26))]
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), measure_days=pd.DataFrame(rows)))
    assert payload["data_quality"]["measure_gaps"]["runs"] == [
        {"measure": "footfall", "segment_id": "north/n1", "start": "2026-06-24", "end": "2026-06-26", "days": 3}]
    assert ("- A measure missing while its segment sent others (3 segment-days from 2026-06-03 to 2026-06-30): "
            "footfall at north/n1 on 2026-06-24 – 2026-06-26 (3 days).") in render_markdown(payload, "template")
    assert "A measure missing" not in render_markdown(build_payload(SPEC, inputs(monthly_values(1500.0))), "template")


def test_a_silent_store_a_stopped_one_and_a_new_one_are_named_in_data_quality():
    """north/n2 without events 22-24 June while the other stores sold as usual; south/s3 none after 29 May;
    south/s9 opened on 1 June."""
    days = pd.date_range("2026-03-01", "2026-06-30", freq="D").date
    rows = [{"segment_id": store, "measure": "sale", "day": d, "event_count": n}
            for d in days for store, n in (("north/n1", 300), ("north/n2", 120), ("south/s1", 200), ("south/s3", 50),
                                           ("south/s9", 80))
            if not (store == "north/n2" and dt.date(2026, 6, 22) <= d <= dt.date(2026, 6, 24))
            and not (store == "south/s3" and d > dt.date(2026, 5, 29))
            and not (store == "south/s9" and d < dt.date(2026, 6, 1))]
    spans = pd.DataFrame(rows).groupby("segment_id", as_index=False)["day"].agg(first_day="min", last_day="max")
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), measure_days=pd.DataFrame(rows),
                                                      segment_spans=spans, before_stop=pd.DataFrame(rows)))
    text = render_markdown(payload, "template")
    assert ("- Segments without events since before 2026-06-03, while the others had theirs: south/s3 (last events "
            "2026-05-29, usually 50.0 events a day before). Their counts and sums take those days as 0: closed, or a "
            "source that stopped (re-run those days when its files land).") in text
    assert ("- A segment without events on days it usually has them, while the others had theirs (3 segment-days "
            "from 2026-06-03 to 2026-06-30): north/n2 on 2026-06-22 – 2026-06-24 (3 days), usually 120.0 events a "
            "day.") in text
    assert "- New segments, whose first events came on or after 2026-05-01: south/s9 (from 2026-06-01)." in text
    plain = render_markdown(build_payload(SPEC, inputs(monthly_values(1500.0))), "template")
    assert "A segment without events" not in plain and "New segments" not in plain and "Segments without" not in plain

def test_a_budget_without_a_forecast_of_its_months_shows_its_weeks():
    """Too few months to forecast from: the briefing shows the north star's weeks ahead, named as weeks."""
    weeks = pd.DataFrame([{"metric_id": m, "grain": "week", "period_start": dt.date(2026, 7, 6) + dt.timedelta(weeks=i),
                           "value": 100.0 + i, "lo80": 90.0, "hi80": 120.0, "lo95": 80.0, "hi95": 130.0,
                           "method": "theta"} for m in ("new_customers", "spend") for i in range(3)])
    ahead = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), forecasts=weeks))["what_will_happen"]
    assert ahead["grain"] == "week" and [f["value"] for f in ahead["forecast"]] == [100.0, 101.0, 102.0]
    both = pd.concat([weeks, weeks.assign(grain="month", period_start=dt.date(2026, 7, 1))])
    ahead = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), forecasts=both))["what_will_happen"]
    assert ahead["grain"] == "month" and len(ahead["forecast"]) == 3
    assert build_payload(SPEC, inputs(monthly_values(1500.0)))["what_will_happen"]["grain"] == "month"


def test_the_months_ahead_start_from_the_month_in_progress_as_its_days_say():
    """On 22 July, with 800 new customers so far, the months' own forecast of July (1,000, made from June) gives
    way to the forecasting stage's July from its days (1,150) and the months after it scaled alike; the table
    marks July in progress and says what it is made of."""
    months = pd.DataFrame([{"metric_id": "new_customers", "grain": "month", "period_start": dt.date(2026, 7 + i, 1),
                            "value": 1000.0, "lo80": 900.0, "hi80": 1100.0, "lo95": 850.0, "hi95": 1150.0,
                            "method": "theta"} for i in range(4)])
    to_date = pd.DataFrame([{"metric_id": "new_customers", "as_of": dt.date(2026, 7, 22),
                             "period_start": dt.date(2026, 7 + i, 1), "observed_to_date": 800.0 if i == 0 else None,
                             "value": 1150.0, "lo80": 1100.0, "hi80": 1200.0, "lo95": 1080.0, "hi95": 1230.0,
                             "scale": 1.15, "method": "observed to 2026-07-22 + daily forecast of the rest" if i == 0
                             else "theta, scaled by the month in progress"} for i in range(2)])
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), forecasts=months,
                                                      forecasts_to_date=to_date))
    ahead = payload["what_will_happen"]["forecast"]
    assert [(f["period_start"], f["value"]) for f in ahead] == [
        ("2026-07-01", 1150.0), ("2026-08-01", 1150.0), ("2026-09-01", 1000.0), ("2026-10-01", 1000.0)]
    assert ahead[0]["observed_to_date"] == 800.0 and "observed_to_date" not in ahead[1]
    text = render_markdown(payload, "template")
    assert "**new_customers**, next 4 months (predicted, theta):" in text
    assert "| 2026-07-01 (in progress) | 1,150 | 1,100 – 1,200 | 1,080 – 1,230 |" in text
    assert ("_The month in progress is the 800 observed to 2026-07-22 plus the daily forecast of its other days, "
            "1.15 times the monthly forecast of it; the months after it are scaled alike, as goals take them._") in text
    plain = render_markdown(build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), forecasts=months)),
                            "template")
    assert "| 2026-07-01 | 1,000 |" in plain and "in progress" not in plain


def test_a_tied_best_or_worst_value_says_how_many_more_share_it():
    """Of 2,000 channels, 1,500 had no new customers: the three named worst are three of them."""
    rows = [("a", 90.0, 1, 2000, 1, True, False), ("b", 80.0, 2, 1999, 1, True, False),
            ("c", 70.0, 3, 1998, 1, True, False), ("z", 0.0, 2000, 1, 1500, False, True),
            ("y", 0.0, 1999, 2, 1500, False, True), ("x", 0.0, 1998, 3, 1500, False, True)]
    rankings = pd.DataFrame([{"metric_id": "new_customers", "segment_level": "channel", "segment_id": s, "value": v,
                              "rank_best": b, "rank_worst": w, "segments_ranked": 2000, "is_top": top,
                              "is_bottom": bottom, "segments_tied": tied} for s, v, b, w, tied, top, bottom in rows])
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), rankings=rankings))
    text = render_markdown(payload, "template")
    assert ("(2,000 ranked): best a (90), b (80), c (70); worst z (0), y (0), x (0) and 1,497 more at 0") in text
    untied = rankings.drop(columns="segments_tied")  # a ranking from before ties were counted
    text = render_markdown(build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1500.0)), rankings=untied)),
                           "template")
    assert "worst z (0), y (0), x (0)\n" in text


def test_markdown_cites_payload_figures_and_labels_the_writer():
    payload = build_payload(SPEC, inputs(monthly_values(1500.0)))
    text = render_markdown(payload, "deterministic template (no ANTHROPIC_API_KEY set)")
    assert "deterministic template (no ANTHROPIC_API_KEY set)" in text
    assert "1,500" in text and "new customers ★" in text
    assert "quarantined 1" in text and "value missing (1)" in text
    assert "Figures are observed (measured from ingested events) unless marked predicted" in text


def test_empty_history_renders_without_crashing():
    empty = monthly_values(1.0).iloc[0:0]
    payload = build_payload(SPEC, inputs(empty))
    assert payload["period"] is None
    assert "nothing to report" in render_markdown(payload, "template")


@pytest.mark.parametrize("value, unit, text", [
    (1234567.8, "EUR", "€1,234,568"), (0.1234, "ratio", "12.3%"), (14.0, "", "14"), (3.14159, "", "3.14"),
    (None, "EUR", "n/a"), (-42.5, "EUR", "-€42.5"),
    # below 1, three significant digits: an error rate of 0.0102 is not 0.01
    (0.0102, "", "0.0102"), (0.5, "", "0.50"), (0.123456, "", "0.123"), (-0.0347, "USD", "-$0.0347"),
    # a ratio below 1% keeps two significant digits: a take-rate change of 0.046% is not 0.0%
    (0.0022, "ratio", "0.22%"), (-0.00046, "ratio", "-0.046%"), (0.0, "ratio", "0.0%"), (0.085, "ratio", "8.5%"),
    # another currency by its ISO code; a unit that is none stays off the figure
    (420000.0, "AUD", "AUD 420,000"), (-12.5, "CHF", "-CHF 12.5"), (3.5, "kWh", "3.50"),
])
def test_number_formatting(value, unit, text):
    assert fmt(value, unit) == text


@pytest.mark.parametrize("delta, unit, levels, text", [
    # a churn risk from 22.3% to 23.4% moved 1.1 points, not 1.1%
    (0.011, "probability", (0.223, 0.234), "1.1 pts"), (-0.0023, "ratio", (), "-0.23 pts"),
    (0.0, "ratio", (0.2, 0.2), "0.0 pts"),
    # a rate whose figures are no shares (a return on spend of 3.2 reads 3.20) differs in its own figures
    (0.3, "ratio", (3.2, 3.5), "0.30"), (1.7, "ratio", (), "1.70"),
    (-240.0, "EUR", (1000.0, 760.0), "-€240"), (None, "ratio", (), "n/a"),
])
def test_a_difference_of_rates_reads_in_points(delta, unit, levels, text):
    assert fmt_delta(delta, unit, *levels) == text


def test_a_rate_s_change_and_its_drivers_read_in_points_or_in_its_own_figures():
    def entry(metric, before, after, contribution):
        return {"metric_id": metric, "comparisons": [{
            "baseline": "previous", "verdict": "material", "delta_z": 4.0, "delta": after - before,
            "baseline_value": before, "value": after, "top_drivers": [
                {"factor": "residual", "contribution": contribution, "driver": None}]}]}
    told, _ = _narrated_changes([entry("churn_risk", 0.223, 0.234, 0.011), entry("return_on_spend", 3.2, 3.5, 0.3)],
                                {"churn_risk": "probability", "return_on_spend": "ratio"}, BASELINE_WORDS)
    assert told[0] == ("- **churn_risk** 22.3% → 23.4% vs the previous period (change 1.1 pts, z +4.0, beyond normal "
                       "variation): residual 1.1 pts.")
    # a return on spend of 3.2 is no share: its change and drivers are in its own figures, not '30.0 pts'
    assert told[1] == ("- **return_on_spend** 3.20 → 3.50 vs the previous period (change 0.30, z +4.0, beyond normal "
                       "variation): residual 0.30.")


def test_a_rate_s_two_figures_read_alike_when_one_is_no_share():
    """A return on spend from 1.40 to 1.60: 1.40 alone reads 140.0%, 1.60 alone 1.60; side by side both read
    as figures, and so does their change (was '140.0% → 1.60 (change 20.0 pts)')."""
    told, _ = _narrated_changes([{"metric_id": "return_on_spend", "comparisons": [{
        "baseline": "previous", "verdict": "material", "delta_z": 4.0, "delta": 0.2, "baseline_value": 1.4,
        "value": 1.6, "top_drivers": [{"factor": "residual", "contribution": 0.2, "driver": None}]}]}],
        {"return_on_spend": "ratio"}, BASELINE_WORDS)
    assert told[0] == ("- **return_on_spend** 1.40 → 1.60 vs the previous period (change 0.20, z +4.0, beyond normal "
                       "variation): residual 0.20.")
    assert [fmt(1.4, "ratio"), fmt(1.4, "ratio", 1.6), fmt(0.9, "ratio", 1.4), fmt_change(None, 0.2, "ratio", 1.4, 1.6)
            ] == ["140.0%", "1.40", "90.0%", "+0.20"]


def test_a_change_without_a_percentage_is_signed_in_its_units_or_points():
    assert [fmt_change(None, 0.021, "ratio"), fmt_change(None, -12.0, "EUR"), fmt_change(0.05, 0.02, "ratio"),
            fmt_change(None, None)] == ["+2.1 pts", "-€12", "+5.0%", "n/a"]


def test_a_share_keeps_one_format_above_one():
    # a segment's risk (sd of relative changes) of 2.27 next to one of 0.25: both read as percentages
    assert [fmt_share(0.247), fmt_share(2.273), fmt_share(None)] == ["24.7%", "227.3%", "n/a"]


def test_payload_floats_carry_no_summation_noise():
    values = monthly_values(1500.0)
    values.loc[values["metric_id"] == "spend", "value"] = 395454.2899999999
    spend = next(m for m in build_payload(SPEC, inputs(values))["metrics"] if m["metric_id"] == "spend")
    assert spend["value"] == 395454.29


def weekly(metric_id: str, starts, value: float = 100.0) -> pd.DataFrame:
    return pd.DataFrame([{"metric_id": metric_id, "grain": "week", "period_start": start, "value": value,
                          "null_reason": None, "is_complete": True} for start in starts])


def test_what_to_do_section_shows_classified_actions_and_the_predicted_allocation():
    values = pd.concat([monthly_values(1000.0), weekly("customer_acquisition_cost", [dt.date(2026, 6, 22)])])
    base = inputs(values)
    actions = pd.DataFrame([{
        "rule_id": "expensive_acquisition", "period_grain": "week", "period_start": dt.date(2026, 6, 22),
        "segment_id": "ppc", "condition": "customer_acquisition_cost > 300",
        "trigger_values": '{"customer_acquisition_cost": 312.5}', "action_type": "flag", "action_target": None,
        "action_amount": float("nan"), "message": "CAC high", "class_kind": "decision", "class_type": "programmed",
        "class_detail": "remove"}])
    allocation = pd.DataFrame([{
        "basis_period": dt.date(2026, 6, 22), "grain": "week", "lever_metric": "spend", "objective_metric": "new_customers",
        "segment_id": s, "current": c, "recommended": r, "change": r - c, "curve_form": "linear",
        "expected_objective_current": 480.0, "expected_objective_recommended": 520.0, "expected_gain": 40.0,
        "expected_gain_low90": 12.0, "expected_gain_high90": 71.0} for s, c, r in (("ppc", 30000.0, 20000.0), ("sales_team", 40000.0, 50000.0))])
    constraints = pd.DataFrame([{"constraint_name": "budget", "is_bottleneck": True,
                                 "explanation": "Budget, not capacity, is what holds new_customers back."}])
    outcomes = pd.DataFrame([{"decision": "reallocation", "decided_period": dt.date(2026, 6, 15),
                              "evaluated_period": dt.date(2026, 6, 22),
                              "summary": "reallocation of week 2026-06-15: followed 50%; observed +7.0 new_customers "
                                         "against +5.0 expected for the spend actually made"}])
    payload = build_payload(SPEC, BriefingInputs(base.values, base.rankings, base.quality, base.known_events,
                                                 actions=actions, allocation=allocation, constraints=constraints,
                                                 outcomes=outcomes))
    assert payload["actions"][0]["needs_judgement"] is False
    assert "| decision/programmed/remove | flag: CAC high |" in render_markdown(payload, "template")
    # an allocation a rule makes says how much goes where (it had read "allocate: " with no message)
    move = actions.assign(action_type="allocate", action_target="sales_team", action_amount=5000.0, message=None,
                          class_kind="action", class_type="quantity", class_detail="more")
    moved = build_payload(SPEC, dataclasses.replace(base, actions=move))
    assert (moved["actions"][0]["target"], moved["actions"][0]["amount"]) == ("sales_team", 5000.0)
    assert "| action/quantity/more | allocate €5,000 to sales_team |" in render_markdown(moved, "template")
    actions.loc[0, ["class_kind", "class_type", "class_detail"]] = ["decision", "non_programmed", float("nan")]
    again = build_payload(SPEC, BriefingInputs(base.values, base.rankings, base.quality, base.known_events, actions=actions))
    assert again["actions"][0]["classification"]["detail"] is None and again["actions"][0]["needs_judgement"]
    assert "decision/non_programmed |" in render_markdown(again, "template")
    assert payload["allocation"]["expected_gain_interval90"] == [12.0, 71.0]
    text = render_markdown(payload, "template")
    assert "## What should we do" in text and "decision/programmed/remove" in text
    assert "customer_acquisition_cost = 312.5" in text
    assert "a gain of 40 (90% interval 12 to 71; predicted)" in text
    assert "Budget, not capacity, is what holds new_customers back." in text
    assert "interval includes zero" not in text
    assert "- reallocation of week 2026-06-15: followed 50%; observed +7.0 new_customers against +5.0 expected" in text
    payload["allocation"]["expected_gain_interval90"] = [-15.0, 71.0]
    assert "The interval includes zero" in render_markdown(payload, "template")
    assert "extrapolated" not in text  # tables without the columns (older logs) read as within range
    beyond = allocation.assign(observed_low=[25000.0, 38000.0], observed_high=[35000.0, 45000.0],
                               extrapolated=[False, True])
    text = render_markdown(build_payload(SPEC, BriefingInputs(base.values, base.rankings, base.quality,
                                                              base.known_events, allocation=beyond,
                                                              constraints=constraints)), "template")
    assert ("- sales_team: 50,000 lies outside the spend its curve was fitted on (38,000 – 45,000): what it "
            "expects there is extrapolated; consider optimization.bounds.") in text
    assert "- ppc: 20,000 lies outside" not in text


def test_allocation_names_held_levers_unspent_budget_and_when_nothing_moves():
    base = inputs(monthly_values(1000.0))

    def allocation(recommended: dict[str, float], held: dict[str, str]) -> pd.DataFrame:
        return pd.DataFrame([{
            "basis_period": dt.date(2026, 6, 22), "grain": "week", "lever_metric": "spend",
            "objective_metric": "new_customers", "segment_id": s, "current": c, "recommended": recommended[s],
            "change": recommended[s] - c, "curve_form": "linear", "held_reason": held.get(s),
            "expected_objective_current": 600.0, "expected_objective_recommended": 600.0, "expected_gain": 0.0,
            "expected_gain_low90": 0.0, "expected_gain_high90": 0.0}
            for s, c in (("ppc", 30000.0), ("sales_team", 40000.0))])

    constraints = pd.DataFrame([
        {"constraint_name": "budget", "limit_value": 70000.0, "is_bottleneck": False, "explanation": None},
        {"constraint_name": "capacity", "limit_value": 600.0, "is_bottleneck": True,
         "explanation": "Capacity, not budget, is what holds new_customers back."}])
    reason = "new_customers shows no measurable response to spend (slope 95% interval -0.1 to 0.2 includes 0)"

    def render(recommended, held):
        payload = build_payload(SPEC, BriefingInputs(base.values, base.rankings, base.quality, base.known_events,
                                                     allocation=allocation(recommended, held), constraints=constraints))
        return payload, render_markdown(payload, "template")

    payload, text = render({"ppc": 30000.0, "sales_team": 12000.0}, {"ppc": reason})
    assert payload["allocation"]["levers"][0]["held"] == reason and payload["allocation"]["recommended_total"] == 42000
    assert f"- ppc: {reason}." in text
    assert "The recommendation spends 42,000 of the 70,000 available: more would not add new_customers." in text
    payload["allocation"]["objective_sense"] = "minimise"  # spending less is then the point, not a surplus
    assert "The recommendation spends" not in render_markdown(payload, "template")
    _, still = render({"ppc": 30000.0, "sales_team": 40000.0}, {"ppc": reason, "sales_team": reason})
    assert "History supports no reallocation: every lever stays where it is." in still
    assert "interval includes zero" not in still and "spends" not in still


def test_a_budget_whose_allocation_could_not_be_estimated_says_why():
    base = inputs(monthly_values(1000.0))
    constraints = pd.DataFrame([{"constraint_name": "not estimated", "limit_value": None, "is_bottleneck": False,
                                 "explanation": "need at least 6 complete weeks of history, have 2"}])
    payload = build_payload(SPEC, BriefingInputs(base.values, base.rankings, base.quality, base.known_events,
                                                 allocation=pd.DataFrame(), constraints=constraints))
    assert payload["allocation"] == {"not_estimated": "need at least 6 complete weeks of history, have 2"}
    text = render_markdown(payload, "template")
    assert "No reallocation is recommended yet: need at least 6 complete weeks of history, have 2." in text
    assert "impossible" not in text


def test_changes_of_a_measure_that_may_go_below_zero_are_shown_in_units():
    """An outdoor temperature from 12.8 to 10.4 C is no change of -18%: a scale whose zero is arbitrary (the spec
    lets the measure go below it) has no relative changes, even from a positive base."""
    measure = SPEC.metrics["spend"].measure
    signed = SPEC.model_copy(update={"measures": {**SPEC.measures, measure: SPEC.measures[measure].model_copy(
        update={"min": -40.0})}})
    for spec, relative in ((SPEC, True), (signed, False)):
        figure = next(m for m in build_payload(spec, inputs(monthly_values(1000.0)))["metrics"]
                      if m["metric_id"] == "spend")
        assert figure["change"] is not None and (figure["change_pct"] is not None) is relative
        assert (figure["year_ago_change_pct"] is not None) is relative


def test_changes_from_a_non_positive_base_are_shown_in_units_not_as_a_percentage():
    values = monthly_values(1000.0)
    months = sorted(values.loc[values["grain"] == "month", "period_start"].unique())
    leads = (values["metric_id"] == "leads") & (values["grain"] == "month")
    values.loc[leads & (values["period_start"] == months[-2]), "value"] = -0.09
    values.loc[leads & (values["period_start"] == months[-1]), "value"] = -0.61
    payload = build_payload(SPEC, inputs(values))
    figure = next(m for m in payload["metrics"] if m["metric_id"] == "leads")
    assert figure["change_pct"] is None and figure["change"] == pytest.approx(-0.52)
    row = next(line for line in render_markdown(payload, "template").splitlines() if line.startswith("| leads |"))
    assert row.startswith("| leads | -0.61 | -0.09 | -0.52 |")  # a year ago was positive: that one stays in %


def drift_rows() -> pd.DataFrame:
    def rows(metric, baseline, delta, z, verdict, parts):
        return [{"metric_id": metric, "grain": "month", "segment_level": "_total", "segment_id": "_total",
                 "period_start": dt.date(2026, 6, 1),
                 "baseline": baseline, "baseline_start": dt.date(2026, 5, 1), "value": 1000 + delta,
                 "baseline_value": 1000.0, "delta": delta, "delta_z": z, "verdict": verdict, "factor": factor,
                 "driver": driver, "contribution": value, "share_of_delta": value / delta, "evidence": None}
                for factor, driver, value in parts]
    return pd.DataFrame(
        rows("new_customers", "previous", 500.0, 6.1, "material",
             [("event_shock", "Price up (2026-06-01)", 350.0), ("dimension_drift", "channel=ppc", 120.0),
              ("temporal_variance", "weekday mix and calendar", 20.0), ("residual", None, 10.0)])
        + rows("new_customers", "year_ago", 40.0, 0.4, "normal variation", [("residual", None, 40.0)])
        + rows("spend", "previous", -300.0, -4.0, "material", [("dimension_drift", "channel=ppc", -300.0)])
        + rows("leads", "previous", 5.0, 0.2, "normal variation", [("residual", None, 5.0)]))


def test_why_it_changed_puts_headline_first_and_narrates_only_material_changes():
    base = inputs(monthly_values(1500.0))
    payload = build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": drift_rows()}))
    why = payload["why_it_changed"]
    headline = [m for m in payload["headline_metrics"] if m in {"new_customers", "leads"}]
    # headline metrics always (north star first), then other material changes; non-headline noise never
    assert [w["metric_id"] for w in why] == [*headline, "spend"] and headline[0] == SPEC.north_star
    previous = why[0]["comparisons"][0]
    assert previous["top_drivers"][0]["driver"] == "Price up (2026-06-01)"
    assert sum(previous["factors"].values()) == pytest.approx(previous["delta"])
    text = render_markdown(payload, "template")
    assert "## Why it changed" in text and "event shock 350" in text
    assert "new_customers vs a year before" in text  # within normal variation: named, not narrated
    assert "**leads**" not in text


def test_a_childs_own_change_is_followed_down_to_where_it_came_from():
    """Spend fell because ppc did; within ppc, its brand campaign did; within that, an outage: the briefing says
    so, instead of stopping at "channel=ppc". A slice's mix, or a slice without a decomposition of its own, ends
    the chain."""
    def scope(segment_id, level, metric, delta, parts):
        return [{"metric_id": metric, "grain": "month", "segment_level": level, "segment_id": segment_id,
                 "period_start": dt.date(2026, 6, 1), "baseline": "previous", "baseline_start": dt.date(2026, 5, 1),
                 "value": 1000 + delta, "baseline_value": 1000.0, "delta": delta, "delta_z": -5.0,
                 "verdict": "material", "factor": factor, "driver": driver, "contribution": value,
                 "share_of_delta": value / delta, "evidence": None} for factor, driver, value in parts]
    drift = pd.DataFrame(
        scope("_total", "_total", "spend", -300.0, [("dimension_drift", "channel=ppc", -290.0), ("residual", None, -10.0)])
        + scope("ppc", "channel", "spend", -290.0, [("dimension_drift", "campaign=brand", -250.0),
                                                    ("dimension_drift", "campaign=generic", -40.0)])
        + scope("ppc/brand", "campaign", "spend", -250.0, [("event_shock", "Outage (2026-06-03)", -240.0),
                                                           ("residual", None, -10.0)])
        + scope("_total", "_total", "new_customers", 50.0, [("dimension_drift", "channel=ppc (mix)", 50.0)])
        + scope("ppc", "channel", "new_customers", 30.0, [("residual", None, 30.0)]))
    base = inputs(monthly_values(1500.0))
    payload = build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": drift}))
    why = {w["metric_id"]: w["comparisons"][0] for w in payload["why_it_changed"]}
    assert [(w["segment"], w["factor"], w["driver"], w["contribution"]) for w in why["spend"]["within"]] == [
        ("ppc", "dimension_drift", "campaign=brand", -250.0), ("ppc/brand", "event_shock", "Outage (2026-06-03)", -240.0)]
    assert why["new_customers"]["within"] == []  # ppc's share moving is not ppc's own change
    text = render_markdown(payload, "template")
    assert ("within ppc, dimension drift -€250 (campaign=brand); within ppc/brand, event shock -€240 "
            "(Outage (2026-06-03)).") in text


def test_a_cause_reaching_a_ratio_through_several_components_is_one_driver_netted():
    """The drift stage splits a cost per customer's change by component; the season that lifts spend and
    customers alike moved the ratio by -1.1, not the -20.5 its customers' part reads, and more customers in a
    cheap channel moved it by -12.0 (its mix), not -26.4. The briefing's drivers count such a cause once."""
    def row(factor, driver, path, value):
        return {"metric_id": "customer_acquisition_cost", "grain": "month", "segment_level": "_total",
                "segment_id": "_total", "period_start": dt.date(2026, 6, 1), "baseline": "previous",
                "baseline_start": dt.date(2026, 5, 1),
                "value": 94.5, "baseline_value": 100.0, "delta": -5.5, "delta_z": -5.0, "verdict": "material",
                "factor": factor, "driver": driver, "path": path, "contribution": value, "share_of_delta": value / -5.5,
                "evidence": f"{driver} evidence"}
    drift = pd.DataFrame([
        row("temporal_variance", "new_customers: yearly pattern", "customer_acquisition_cost <- new_customers", -20.5),
        row("temporal_variance", "spend: yearly pattern", "customer_acquisition_cost <- spend", 19.4),
        row("dimension_drift", "new_customers: channel=ppc", "customer_acquisition_cost <- new_customers", -26.4),
        row("dimension_drift", "spend: channel=ppc", "customer_acquisition_cost <- spend", 14.4),
        row("dimension_drift", "spend: channel=social", "customer_acquisition_cost <- spend", -7.1),
        row("component_drift", "spend", "customer_acquisition_cost <- spend", 26.0),
        row("component_drift", "new_customers", "customer_acquisition_cost <- new_customers", -11.3),
        row("residual", None, None, 0.0)])
    base = inputs(monthly_values(1500.0))
    payload = build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": drift}))
    (cac,) = [w["comparisons"][0] for w in payload["why_it_changed"] if w["metric_id"] == "customer_acquisition_cost"]
    assert [(d["factor"], d["driver"], round(d["contribution"], 6)) for d in cac["top_drivers"]] == [
        ("component_drift", "spend", 26.0), ("dimension_drift", "channel=ppc", -12.0),
        ("component_drift", "new_customers", -11.3)]
    assert cac["top_drivers"][1]["evidence"] == "new_customers: channel=ppc evidence"  # its largest part's
    assert cac["factors"]["temporal_variance"] == pytest.approx(-1.1)  # the factors' totals are as they were
    text = render_markdown(payload, "template")
    assert "component drift €26 (spend); dimension drift -€12 (channel=ppc); component drift -€11.3" in text
    assert "yearly pattern" not in text
    # a cause through one component keeps the component's name
    one = drift[drift["driver"] != "new_customers: channel=ppc"].assign(delta=8.9 - 5.5)
    payload = build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": one}))
    (cac,) = [w["comparisons"][0] for w in payload["why_it_changed"] if w["metric_id"] == "customer_acquisition_cost"]
    assert ("dimension_drift", "spend: channel=ppc", 14.4) in [
        (d["factor"], d["driver"], d["contribution"]) for d in cac["top_drivers"]]


def test_a_shock_inside_a_change_within_normal_variation_is_told_where_it_stood_out_most():
    """An outage took 150 of ppc's 3,000 leads on two days of June, within the month's normal variation, so no
    change narrates it. It is told once, in ppc where it stood out most, with spend's shock of the same days;
    a shock of May (the baseline), a rare count's day of chance, and a narrated metric's shock are not."""
    def row(metric, segment_id, level, value, driver, contribution, z, verdict="normal variation",
            factor="event_shock"):
        return {"metric_id": metric, "grain": "month", "segment_level": level, "segment_id": segment_id,
                "period_start": dt.date(2026, 6, 1), "baseline": "previous", "baseline_start": dt.date(2026, 5, 1),
                "value": value, "baseline_value": value, "delta": 1.0, "delta_z": 0.5, "verdict": verdict,
                "factor": factor, "driver": driver, "contribution": contribution, "share_of_delta": None,
                "evidence": f"robust z {z:.1f}" if factor == "event_shock" else None}
    outage = "Outage (2026-06-10..2026-06-11)"
    drift = pd.DataFrame([
        row("leads", "ppc", "channel", 3000.0, outage, -150.0, 9.0),
        row("leads", "_total", "_total", 9000.0, "Outage (2026-06-10)", -160.0, 5.0),   # the same days, less clear
        row("spend", "ppc", "channel", 30000.0, outage, -5000.0, 7.0),
        row("spend", "_total", "_total", 90000.0, "unexplained shock 2026-05-20", 900.0, 8.0),  # May's
        row("leads", "email", "channel", 30.0, "unexplained shock 2026-06-20", 3.0, 6.0),   # 4 where 1 is usual
        row("new_customers", "_total", "_total", 1500.0, "residual", 500.0, 0.0, "material", "residual"),
        row("new_customers", "ppc", "channel", 900.0, outage, -90.0, 8.0, "material"),     # narrated
    ])
    base = inputs(monthly_values(1500.0))
    payload = build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": drift}))
    assert payload["quiet_shocks"] == [{
        "span": "2026-06-10..2026-06-11", "event": "Outage",
        "metrics": [{"metric_id": "leads", "segment": "ppc", "contribution": -150.0, "robust_z": 9.0},
                    {"metric_id": "spend", "segment": "ppc", "contribution": -5000.0, "robust_z": 7.0}],
        "provenance": "observed days; abnormal part estimated by the drift stage"}]
    text = render_markdown(payload, "template")
    assert ("- 2026-06-10..2026-06-11, Outage: leads -150 in ppc (robust z 9.0); spend -€5,000 in ppc "
            "(robust z 7.0).") in text


def test_level_shifts_of_the_same_days_are_told_together_under_why_it_changed():
    """A price raised on 1 May moved avg_price at the total and revenue two days later; ppc's cost per lead
    stepped on 14 June. Those are two lines, earliest first; another period's shift and a metric the spec does
    not have are not told."""
    def row(metric, segment_id, level, day, before, after, z, event=None, period=dt.date(2026, 6, 1)):
        return {"budget_id": SPEC.id, "grain": "month", "period_start": period, "metric_id": metric,
                "segment_level": level, "segment_id": segment_id, "shift_day": day, "level_before": before,
                "level_after": after, "relative_change": after / before - 1, "z": z, "days_before": 56,
                "days_after": 61, "event": event}
    shifts = pd.DataFrame([
        row("cost_per_lead", "ppc", "channel", dt.date(2026, 6, 14), 24.0, 35.0, 14.3),
        row("avg_price", "_total", "_total", dt.date(2026, 5, 1), 49.0, 56.35, 30.0, "Price up"),
        row("revenue", "_total", "_total", dt.date(2026, 5, 3), 10000.0, 11500.0, 8.0),
        row("leads", "ppc", "channel", dt.date(2026, 4, 2), 90.0, 60.0, -9.0, period=dt.date(2026, 5, 1)),
        row("not_a_metric", "_total", "_total", dt.date(2026, 6, 14), 1.0, 2.0, 9.0),
        row("conversion_rate", "ppc", "channel", dt.date(2026, 6, 15), 0.053, 0.208, 10.4),
    ])
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1000.0)), level_shifts=shifts))
    shifted = payload["level_shifts"]
    assert [(g["from"], g["event"], [(m["metric_id"], m["segment"], m["from"]) for m in g["metrics"]])
            for g in shifted] == [
        ("2026-05-01", "Price up", [("avg_price", None, "2026-05-01"), ("revenue", None, "2026-05-03")]),
        ("2026-06-14", None, [("cost_per_lead", "ppc", "2026-06-14"), ("conversion_rate", "ppc", "2026-06-15")])]
    assert shifted[0]["metrics"][0]["change_pct"] == pytest.approx(0.15)
    text = render_markdown(payload, "template")
    assert ("- From 2026-05-01 (Price up): avg_price €49 → €56.4 (+15.0%) at the total (z 30.0; 56 days before, "
            "61 after); revenue €10,000 → €11,500 (+15.0%) at the total (from 2026-05-03) (z 8.0; 56 days "
            "before, 61 after).") in text
    # a rate's new level in points: +15.5 points, not +292%
    rate = shifted[1]["metrics"][1]
    assert rate["change_pct"] is None and rate["change"] == pytest.approx(0.155)
    assert ("- From 2026-06-14: cost_per_lead €24 → €35 (+45.8%) in ppc (z 14.3; 56 days before, 61 after); "
            "conversion_rate 5.3% → 20.8% (+15.5 pts) in ppc (from 2026-06-15) (z 10.4; 56 days before, 61 after)."
            in text)
    assert "New levels" not in render_markdown(build_payload(SPEC, inputs(monthly_values(1000.0))), "template")


def test_what_to_do_lists_the_firings_of_the_period_reported_not_an_old_one():
    """A weekly rule under a monthly briefing: its firings in June's weeks are shown, one from March (the rule
    has held since) is not; firings in weeks running are one row from the first to the last."""
    weeks = [dt.date(2026, 3, 2), dt.date(2026, 6, 1), dt.date(2026, 6, 8), dt.date(2026, 6, 22), dt.date(2026, 6, 29)]
    values = pd.concat([monthly_values(1000.0), weekly("customer_acquisition_cost", weeks)])
    actions = pd.DataFrame([{
        "rule_id": "expensive_acquisition", "period_grain": "week", "period_start": week, "segment_id": "ppc",
        "condition": "customer_acquisition_cost > 300", "trigger_values": '{"customer_acquisition_cost": 312.5}',
        "action_type": "flag", "action_target": None, "action_amount": None, "message": "CAC high",
        "class_kind": "decision", "class_type": "non_programmed", "class_detail": None} for week in weeks[:4]])
    actions.loc[2, "trigger_values"] = '{"customer_acquisition_cost": 340.0}'
    payload = build_payload(SPEC, dataclasses.replace(inputs(values), actions=actions))
    assert [(a["period_start"], a["period_last"], a["periods"]) for a in payload["actions"]] == [
        ("2026-06-01", "2026-06-08", 2), ("2026-06-22", "2026-06-22", 1)]
    assert payload["actions"][0]["trigger_values"] == {"customer_acquisition_cost": 340.0}
    text = render_markdown(payload, "template")
    assert ("| expensive_acquisition | week 2026-06-01 – 2026-06-08 (2 weeks running) | ppc | "
            "customer_acquisition_cost = 340 (312.5 – 340 over the run) |") in text
    only_march = dataclasses.replace(inputs(values), actions=actions.iloc[:1])
    assert build_payload(SPEC, only_march)["actions"] == []


def test_system_metrics_after_the_data_do_not_move_the_period_or_data_through():
    values = monthly_values(1500.0)
    ledger = pd.DataFrame([{"metric_id": "llm_calls", "grain": g, "period_start": dt.date(2026, 11, 23) if g == "day"
                            else dt.date(2026, 11, 1), "value": 5.0, "null_reason": None, "is_complete": True}
                           for g in ("day", "month")])
    payload = build_payload(SPEC, inputs(pd.concat([values, ledger], ignore_index=True)))
    assert payload["period"] == build_payload(SPEC, inputs(values))["period"]
    assert payload["period"]["data_through"] == "2026-06-30"


def test_a_composite_names_each_component_with_its_value_normalisation_and_weight():
    spec = load_spec(DEMO_SPECS / "product_delivery.yaml")
    metric_id, composite = next((mid, m) for mid, m in spec.metrics.items() if m.composite is not None)
    months = pd.date_range("2025-01-01", "2026-06-01", freq="MS")
    values = pd.DataFrame([{"metric_id": mid, "grain": "month", "period_start": month.date(),
                            "value": 0.0102 + i % 2, "null_reason": None, "is_complete": True}
                           for mid in spec.metrics for i, month in enumerate(months)])
    text = render_markdown(build_payload(spec, inputs(values)), "template")
    line = next(line for line in text.splitlines() if line.startswith(f"- **{metric_id}**"))
    for c in composite.composite.components:
        words = {"none": "as is", "range": "scaled to 0-1 on its range", "zscore": "z-scored over its history"}
        assert f"{c.metric} 1.01 ({words[c.normalize.method]}, weight {c.weight:g})" in line


def test_before_a_first_complete_month_the_briefing_covers_the_latest_complete_week():
    # 20 days of data: no complete month, two complete weeks (Mondays 2026-10-05 and 2026-10-12)
    days = pd.date_range("2026-10-01", "2026-10-20", freq="D")
    rows = [{"metric_id": m, "grain": "day", "period_start": d.date(), "value": 10.0, "null_reason": None,
             "is_complete": True} for m in SPEC.metrics for d in days]
    rows += [{"metric_id": m, "grain": "week", "period_start": w.date(), "value": 70.0 + i, "null_reason": None,
              "is_complete": w + pd.Timedelta(days=7) <= days[-1] + pd.Timedelta(days=1)}
             for m in SPEC.metrics for i, w in enumerate(pd.date_range("2026-09-28", "2026-10-19", freq="W-MON"))]
    rows += [{"metric_id": m, "grain": "month", "period_start": dt.date(2026, 10, 1), "value": 200.0,
              "null_reason": None, "is_complete": False} for m in SPEC.metrics]
    payload = build_payload(SPEC, inputs(pd.DataFrame(rows)))
    assert SPEC.reporting_grain == "month"
    assert payload["period"]["grain"] == "week" and payload["period"]["start"] == "2026-10-12"
    assert payload["period"]["reporting_grain"] == "month"
    assert "no complete month yet, so this covers the latest complete week" in render_markdown(payload, "template")
    archetypes = pd.DataFrame([{"segment_level": "channel", "metric_id": "new_customers", "grain": "week",
                                "latest_period": dt.date(2026, 10, 12), "method": "quadrant rule (median splits)",
                                "fallback_reason": "no ANTHROPIC_API_KEY", "reward_median": 5.0, "risk_median": 0.1,
                                "segment_id": s, "archetype": a, "rule_archetype": a, "reward": r, "risk": k,
                                "periods": 4} for s, a, r, k in (("ppc", "high-risk/high-reward", 6.0, 0.2),
                                                                 ("seo", "low-risk/low-reward", 4.0, 0.05))])
    young = build_payload(SPEC, dataclasses.replace(inputs(pd.DataFrame(rows)), archetypes=archetypes))
    assert ("channel segments by new_customers: reward = its level over the last complete weeks (fewer than 4 "
            "complete months yet)") in render_markdown(young, "template")
    daily = build_payload(SPEC.model_copy(update={"reporting_grain": "day"}),
                          dataclasses.replace(inputs(pd.DataFrame(rows)), archetypes=archetypes))
    assert ("reward = its level over the last complete weeks (not days: their changes measure the weekday "
            "cycle)") in render_markdown(daily, "template")
    # once the month is complete, the briefing is monthly again and says nothing of a fallback
    monthly = build_payload(SPEC, inputs(monthly_values(1500.0)))
    assert monthly["period"]["grain"] == "month" and "covers the latest" not in render_markdown(monthly, "template")


@pytest.mark.parametrize("status, probability, change, ending", [
    ("at_risk", 0.19, 0.25, "infeasible by history alone, though the forecast still gives the goal 19%."),
    ("infeasible", 0.0, 0.25, "infeasible by history alone."),
    # a monthly bonus asked to cover a whole quarter's overrun: below zero, no percentile of history to weigh
    ("infeasible", 0.0, -68.4, "out of reach through new_customers alone: the time left would have to bring it "
                               "to the other side of zero (a change of -6840.0%)."),
])
def test_a_route_history_calls_infeasible_is_worded_with_the_forecasts_chance(status, probability, change, ending):
    from models.spec import Goal

    spec = SPEC.model_copy(update={"goals": [Goal(id="q4", metric="new_customers", target=5000.0,
                                                  start=dt.date(2026, 6, 1), deadline=dt.date(2026, 12, 31))]})
    tracking = pd.DataFrame([{"goal_id": "q4", "kind": "goal", "metric_id": "new_customers", "direction": "at_least",
                              "window_start": pd.Timestamp("2026-06-01"), "target": 5000.0,
                              "deadline": pd.Timestamp("2026-12-31"), "projected": 4000.0, "projected_lo95": 3000.0,
                              "projected_hi95": 5200.0, "probability": probability, "gap": 1000.0, "status": status,
                              "required_daily_rate": None, "current_daily_rate": None, "binding_input": "new_customers"}])
    constraints = pd.DataFrame([{"goal_id": "q4", "input_metric": "new_customers", "projected": 4000.0,
                                 "required": 5000.0, "required_change": change, "historical_p95_change": 0.1,
                                 "status": "infeasible"}])
    payload = build_payload(spec, BriefingInputs(**{**inputs(monthly_values(1000.0)).__dict__,
                                                    "goal_tracking": tracking, "goal_constraints": constraints}))
    line = next(x for x in render_markdown(payload, "template").splitlines() if x.startswith("- **q4** "))
    assert line.endswith(ending), line


def test_a_period_with_nothing_beyond_noise_says_so_in_why_it_changed():
    drift = drift_rows().assign(verdict="normal variation")
    base = inputs(monthly_values(1500.0))
    text = render_markdown(build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": drift})), "template")
    section = text.split("## Why it changed (attribution estimated)\n\n")[1].split("\n\n")[0]
    assert section.startswith("No change beyond normal variation to explain (new_customers vs the previous period")
    assert "so not narrated" not in text


def test_float_noise_is_no_driver_and_an_unchanged_material_value_says_why():
    def rows(delta, parts):
        return [{"metric_id": "spend", "grain": "month", "segment_level": "_total", "segment_id": "_total",
                 "period_start": dt.date(2026, 6, 1),
                 "baseline": "year_ago", "baseline_start": dt.date(2025, 6, 1), "value": 3300.0 + delta,
                 "baseline_value": 3300.0, "delta": delta, "delta_z": float("nan"), "verdict": "material",
                 "factor": factor,
                 "driver": driver, "contribution": value, "share_of_delta": None, "evidence": None}
                for factor, driver, value in parts]
    base = inputs(monthly_values(1500.0))
    noisy = rows(277.0, [("residual", None, 277.0 + 4.55e-13), ("temporal_variance", "weekday mix", -4.55e-13)])
    text = render_markdown(build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": pd.DataFrame(noisy)})),
                           "template")
    line = next(x for x in text.splitlines() if x.startswith("- **spend**"))
    assert line.endswith(": residual €277.") and "temporal" not in line
    # history's changes all +1 (spread 0), none now: material, and nothing moved to name
    unchanged = rows(0.0, [("residual", None, 0.0), ("temporal_variance", "weekday mix", 0.0)])
    text = render_markdown(build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": pd.DataFrame(unchanged)})),
                           "template")
    line = next(x for x in text.splitlines() if x.startswith("- **spend**"))
    assert line.endswith(": unchanged, where every past change was the same non-zero amount."), line
    # a year's rise far below the usual year's rise is unusual for being small: said so, with the usual rise,
    # not "+277, z -5.0" (spend grows 30 a month here: 360 a year)
    growing = base.values.copy()
    spend = (growing["metric_id"] == "spend") & (growing["grain"] == "month")
    growing.loc[spend, "value"] = 1000 + 30 * np.arange(spend.sum())
    smaller = pd.DataFrame(rows(277.0, [("residual", None, 277.0)])).assign(delta_z=-5.0)
    payload = build_payload(SPEC, BriefingInputs(**{**base.__dict__, "values": growing, "drift": smaller}))
    line = next(x for x in render_markdown(payload, "template").splitlines() if x.startswith("- **spend**"))
    assert "(change €277, a rise smaller than the usual one of €360, z -5.0, beyond normal variation)" in line, line


def test_a_ceiling_already_passed_is_said_once_not_as_a_change_below_minus_100_percent():
    from models.spec import Goal

    ceiling = SPEC.metrics["spend"].model_copy(update={"favourable": "down"})
    spec = SPEC.model_copy(update={"metrics": {**SPEC.metrics, "spend": ceiling},
                                   "goals": [Goal(id="cap", metric="spend", target=60.0, start=dt.date(2026, 6, 1),
                                                  deadline=dt.date(2026, 6, 30))]})
    tracking = pd.DataFrame([{"goal_id": "cap", "kind": "goal", "metric_id": "spend", "direction": "at_most",
                              "window_start": pd.Timestamp("2026-06-01"), "target": 60.0,
                              "deadline": pd.Timestamp("2026-06-30"), "projected": 94.0, "projected_lo95": 82.0,
                              "projected_hi95": 106.0, "probability": 0.0, "gap": 34.0, "status": "infeasible",
                              "required_daily_rate": -1.0, "current_daily_rate": 3.0, "binding_input": "spend"}])
    constraints = pd.DataFrame([{"goal_id": "cap", "input_metric": "spend", "projected": 94.0, "required": 60.0,
                                 "required_change": -1.31, "historical_p95_change": -0.44, "status": "infeasible"}])
    payload = build_payload(spec, BriefingInputs(**{**inputs(monthly_values(1000.0)).__dict__,
                                                    "goal_tracking": tracking, "goal_constraints": constraints}))
    lines = [x for x in render_markdown(payload, "template").splitlines() if x.startswith("- **cap**")]
    assert len(lines) == 1 and "already past its ceiling of" in lines[0]


def test_a_goal_begun_before_the_data_is_not_called_behind():
    from models.spec import Goal

    # daily data from 2026-05-01; the goal counts from 2026-04-01: 30 of its days are not in the figure
    goal = Goal(id="q", metric="new_customers", target=5000.0, start=dt.date(2026, 4, 1), deadline=dt.date(2026, 7, 31))
    payload = build_payload(SPEC.model_copy(update={"goals": [goal]}), inputs(monthly_values(1000.0)))
    (g,) = [g for g in payload["goals"] if g["goal_id"] == "q"]
    assert (g["status"], g["data_from"], g["unseen_days"], g["actual_so_far"]) == (
        "partial data", "2026-05-01", 30, 3050.0)
    text = render_markdown(payload, "template")
    assert "| partial data (from 2026-05-01) |" in text and "Off pace" not in text
    assert ("_q began 2026-04-01, 30 days before the data (from 2026-05-01): its figure counts only the days "
            "since, so its total is not judged against the target._") in text


def _spend_days(first: str, last: str, per_day: float) -> pd.DataFrame:
    return pd.DataFrame([{"metric_id": "spend", "grain": "day", "period_start": d.date(), "value": per_day,
                          "null_reason": None, "is_complete": True} for d in pd.date_range(first, last)])


def test_spending_against_a_quarterly_allocation_in_a_year_from_april():
    # €10,000 a quarter, years from April: on 2026-07-02 the quarter FY2026/27 Q2 has begun and Q1 (April to
    # June) is the quarter the June briefing reports: €110 a day from 2026-04-01 is €10,010 over Q1's 91 days
    spec = SPEC.model_copy(update={"allocation": SPEC.allocation.model_copy(update={
        "amount": 10_000.0, "period": "quarter", "fiscal_year_start": 4})})
    values = pd.concat([monthly_values(1000.0), _spend_days("2026-04-01", "2026-07-02", 110.0)])
    tracking = pd.DataFrame([{"goal_id": "allocation_fy2026_27_q2", "kind": "allocation", "metric_id": "spend",
                              "direction": "at_most", "window_start": pd.Timestamp("2026-07-01"), "target": 10_000.0,
                              "deadline": pd.Timestamp("2026-09-30"), "projected": 10_120.0,
                              "projected_lo95": 9_300.0, "projected_hi95": 11_000.0, "probability": 0.999,
                              "gap": -120.0, "status": "at_risk", "required_daily_rate": 106.0,
                              "current_daily_rate": 110.0, "binding_input": "spend"}])
    payload = build_payload(spec, BriefingInputs(**{**inputs(values).__dict__, "goal_tracking": tracking}))
    periods = payload["budget"]["allocation"]["periods"]
    assert [p["label"] for p in periods] == ["FY2026/27 Q1", "FY2026/27 Q2"]
    assert periods[0]["spent"] == 10_010.0 and periods[0]["finished"] and periods[1]["spent"] == 220.0
    text = render_markdown(payload, "template")
    assert "**Allocation:** €10,000 per quarter (years from April to March)" in text
    assert ("- **FY2026/27 Q1** (2026-04-01 – 2026-06-30): €10,010 spent, 100.1% of the allocation, over it by "
            "€10 (observed).") in text
    # 99.9% of simulated paths: 'over 99%', not the 100% the paths cannot show
    assert ("- **FY2026/27 Q2** (2026-07-01 – 2026-09-30): €220 spent to 2026-07-02, 2.2% of the allocation with "
            "2.2% of the quarter gone (observed); predicted €10,120 by its end (95%: €9,300 – €11,000), "
            "over 99% chance of staying within it.") in text


def test_an_allocation_no_metric_is_spent_against_is_said_to_be_untracked():
    spec = SPEC.model_copy(update={"allocation": SPEC.allocation.model_copy(update={"currency": "USD"})})
    payload = build_payload(spec, inputs(monthly_values(1000.0)))
    assert payload["budget"]["allocation"]["metric"] is None and payload["budget"]["allocation"]["periods"] == []
    assert "_Spending is not tracked against the allocation: no single summed metric in USD reads as the spending" in \
        render_markdown(payload, "template")


def test_the_summary_judges_a_projected_goal_by_its_projection_not_its_linear_pace():
    from models.spec import Goal

    # 50 new customers a day in May and June: 3,050 of 4,000 with 66% of the window gone is 'on track' at its
    # linear pace; the forecasting stage (the season ahead) gives it 18%
    goal = Goal(id="q", metric="new_customers", target=4000.0, start=dt.date(2026, 5, 1), deadline=dt.date(2026, 7, 31))
    spec = SPEC.model_copy(update={"goals": [goal]})
    tracking = pd.DataFrame([{"goal_id": "q", "kind": "goal", "metric_id": "new_customers", "direction": "at_least",
                              "window_start": pd.Timestamp("2026-05-01"), "target": 4000.0,
                              "deadline": pd.Timestamp("2026-07-31"), "projected": 3700.0, "projected_lo95": 3400.0,
                              "projected_hi95": 4050.0, "probability": 0.18, "gap": 300.0, "status": "at_risk",
                              "required_daily_rate": 30.6, "current_daily_rate": 50.0,
                              "binding_input": "new_customers"}])
    payload = build_payload(spec, BriefingInputs(**{**inputs(monthly_values(1000.0)).__dict__,
                                                    "goal_tracking": tracking}))
    (observed,) = [g for g in payload["goals"] if g["goal_id"] == "q"]
    assert observed["status"] == "on track"
    summary = render_markdown(payload, "template").split("## What happened")[0]
    assert "Goals at risk (predicted): q (at risk: 18% chance)." in summary and "Off pace" not in summary


@pytest.mark.parametrize("by_content", [True, False])
def test_copies_found_by_content_point_to_the_event_id_that_would_tell_them_apart(by_content):
    quality = {"received": 12, "loaded": 9, "quarantined": 3, "last_event": "2026-06-30T23:00:00",
               "top_reasons": [{"reason": "duplicate of event", "rows": 3}], "duplicates_by_content": by_content}
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1000.0)), quality=quality))
    text = render_markdown(payload, "template")
    assert "- Top quarantine reasons: duplicate of event (3)." in text
    assert ("name the id column as `source.event_id`" in text) == by_content


def test_the_latest_week_after_the_month_is_told_with_its_drivers():
    """A month is reported once complete: a briefing read on 12 July covers June, and a cost that tripled in
    July's second week is told from the drift stage's weekly decomposition, with where it came from. Weekly
    rows that start on a month's first day (a Monday) stay out of the month's own changes."""
    def week(start, metric, delta, verdict, parts, scope="_total", level="_total"):
        return [{"metric_id": metric, "grain": "week", "segment_level": level, "segment_id": scope,
                 "period_start": start, "baseline": "previous", "baseline_start": start - dt.timedelta(days=7),
                 "value": 1000 + delta, "baseline_value": 1000.0, "delta": delta, "delta_z": 9.0 if verdict ==
                 "material" else 0.5, "verdict": verdict, "factor": factor, "driver": driver, "contribution": value,
                 "share_of_delta": value / delta, "evidence": None} for factor, driver, value in parts]
    july = dt.date(2026, 7, 6)
    drift = pd.concat([drift_rows(), pd.DataFrame(
        week(dt.date(2026, 6, 1), "leads", 80.0, "material", [("residual", None, 80.0)])
        + week(july, "new_customers", 600.0, "material", [("dimension_drift", "channel=ppc", 640.0),
                                                          ("residual", None, -40.0)])
        + week(july, "new_customers", 640.0, "material", [("dimension_drift", "campaign=brand", 640.0)],
               scope="ppc", level="channel")
        + week(july, "new_customers", 640.0, "material", [("residual", None, 640.0)], scope="ppc/brand",
               level="campaign")
        + week(july, "spend", 5.0, "normal variation", [("residual", None, 5.0)]))])
    values = monthly_values(1500.0)
    later = pd.DataFrame([{"metric_id": "new_customers", "grain": "day", "period_start": d.date(), "value": 50.0,
                           "null_reason": None, "is_complete": True}
                          for d in pd.date_range("2026-07-01", "2026-07-12")])
    payload = build_payload(SPEC, BriefingInputs(**{**inputs(pd.concat([values, later])).__dict__, "drift": drift}))
    leads = next(w for w in payload["why_it_changed"] if w["metric_id"] == "leads")
    assert [c["delta"] for c in leads["comparisons"]] == [5.0]  # June's first week is not June
    week_told = payload["latest_week"]
    assert (week_told["start"], week_told["end"]) == ("2026-07-06", "2026-07-12")
    changes = {c["metric_id"]: c["comparisons"][0] for c in week_told["changes"]}
    # down to the campaign; what nothing explains inside it ("within ppc/brand, residual 640") says no more
    assert [w["driver"] for w in changes["new_customers"]["within"]] == ["campaign=brand"]
    text = render_markdown(payload, "template")
    section = text.split("## Since then: the week of 2026-07-06 – 2026-07-12 (attribution estimated)\n\n")[1]
    assert section.startswith("- **new_customers** 1,000 → 1,600 vs the week before (change 600, z +9.0, beyond "
                              "normal variation): dimension drift 640 (channel=ppc); residual -40; within ppc, "
                              "dimension drift 640 (campaign=brand).")
    assert "In the latest week (2026-07-06 – 2026-07-12) new customers moved 1,000 → 1,600 against the week " \
           "before" in text
    # a week inside the month reported says nothing new; a weekly briefing has no week after its own
    inside = drift[~((drift["grain"] == "week") & (drift["period_start"] == july))]
    assert build_payload(SPEC, BriefingInputs(**{**inputs(values).__dict__, "drift": inside}))["latest_week"] is None
    assert "## Since then" not in render_markdown(
        build_payload(SPEC, BriefingInputs(**{**inputs(values).__dict__, "drift": inside})), "template")


def test_what_followed_a_rule_that_fired_day_after_day_is_its_latest_outcome():
    """Ten alike outcomes of one rule on one segment are one line, the latest, saying how many it stands for;
    another segment's keeps its own."""
    def outcome(day, segment, summary):
        return {"decision": "rule gpu_burn", "decided_period": day - dt.timedelta(days=1), "evaluated_period": day,
                "segment_id": segment, "metric_id": "spend", "summary": summary}
    days = [dt.date(2026, 6, 10) + dt.timedelta(days=d) for d in range(10)]
    outcomes = pd.DataFrame([outcome(d, "ppc", f"ppc {d.isoformat()}") for d in days]
                            + [outcome(days[3], "seo", "seo once")])
    payload = build_payload(SPEC, dataclasses.replace(inputs(monthly_values(1000.0)), outcomes=outcomes))
    assert [(o["summary"], o["earlier"]) for o in payload["decision_outcomes"]] == [("ppc 2026-06-19", 9),
                                                                                    ("seo once", 0)]
    text = render_markdown(payload, "template")
    assert "- ppc 2026-06-19 (the latest of 10 alike)\n- seo once\n" in text
