import datetime as dt
import json

import pandas as pd
import pytest

from models.learning import action_outcomes, action_scopes, recommendation_outcomes

BASIS, NEXT = dt.date(2026, 3, 2), dt.date(2026, 3, 9)


def log_rows():
    # two linear levers: a yields 0.01 per unit, b 0.02; recommended moving 1000 from a to b
    return pd.DataFrame([
        {"budget_id": "m", "basis_period": pd.Timestamp(BASIS), "grain": "week", "objective_metric": "customers",
         "segment_id": seg, "current": cur, "recommended": rec, "curve_form": "linear", "curve_intercept": 0.0,
         "curve_slope": slope, "curve_scale": 1.0}
        for seg, cur, rec, slope in (("a", 3000.0, 2000.0, 0.01), ("b", 1000.0, 2000.0, 0.02))])


def test_a_half_followed_reallocation_is_judged_against_the_curves():
    realized = pd.DataFrame([
        {"budget_id": "m", "period_start": pd.Timestamp(NEXT), "segment_id": "a", "lever": 2500.0, "objective": 26.0},
        {"budget_id": "m", "period_start": pd.Timestamp(NEXT), "segment_id": "b", "lever": 1500.0, "objective": 31.0}])
    (row,) = recommendation_outcomes(log_rows(), realized)
    assert row["followed_share"] == pytest.approx(0.5)
    assert row["value_at_decision"] == pytest.approx(50.0)       # 0.01*3000 + 0.02*1000
    assert row["expected_effect"] == pytest.approx(5.0)          # 0.01*2500 + 0.02*1500 - 50
    assert row["observed_effect"] == pytest.approx(7.0)          # 57 observed - 50
    assert row["evaluated_period"] == NEXT
    assert "followed 50%; observed +7.0 customers against +5.0 expected" in row["summary"]


def test_a_paused_lever_left_at_nothing_does_not_keep_the_reallocation_from_being_judged():
    paused = {"budget_id": "m", "basis_period": pd.Timestamp(BASIS), "grain": "week", "objective_metric": "customers",
              "segment_id": "c", "current": 0.0, "recommended": 0.0, "curve_form": "linear", "curve_intercept": 0.0,
              "curve_slope": 0.05, "curve_scale": 1.0}
    realized = pd.DataFrame([
        {"budget_id": "m", "period_start": pd.Timestamp(NEXT), "segment_id": "a", "lever": 2500.0, "objective": 26.0},
        {"budget_id": "m", "period_start": pd.Timestamp(NEXT), "segment_id": "b", "lever": 1500.0, "objective": 31.0}])
    (row,) = recommendation_outcomes(pd.concat([log_rows(), pd.DataFrame([paused])], ignore_index=True), realized)
    assert row["followed_share"] == pytest.approx(0.5) and row["observed_effect"] == pytest.approx(7.0)
    assert recommendation_outcomes(pd.concat([log_rows(), pd.DataFrame([paused])]), realized.iloc[:0]) == []


def test_nothing_is_judged_before_the_next_period_is_complete():
    assert recommendation_outcomes(log_rows(), pd.DataFrame(columns=["budget_id", "period_start", "segment_id", "lever", "objective"])) == []


def cac_action(**recorded) -> pd.DataFrame:
    """The rule 'expensive' fired on ppc at BASIS, having seen cac 320 (plus what else it recorded)."""
    return pd.DataFrame([{"budget_id": "m", "rule_id": "expensive", "period_grain": "week",
                          "period_start": pd.Timestamp(BASIS), "segment_id": "ppc",
                          "trigger_values": json.dumps({"cac": 320.0}), **recorded}])


def cac_values() -> pd.DataFrame:
    """cac of ppc 320 -> 240 (-25%) while the budget's went 200 -> 190 (-5%)."""
    return pd.DataFrame([
        {"budget_id": "m", "metric_id": "cac", "grain": "week", "period_start": pd.Timestamp(p), "segment_level": lvl,
         "segment_id": seg, "value": v, "is_complete": True}
        for p, lvl, seg, v in ((BASIS, "channel", "ppc", 320.0), (NEXT, "channel", "ppc", 240.0),
                               (BASIS, "_total", "_total", 200.0), (NEXT, "_total", "_total", 190.0))])


def test_rule_action_effect_is_a_difference_in_differences():
    (row,) = action_outcomes(cac_action(), cac_values())
    assert row["observed_effect"] == pytest.approx(-0.25 - (-0.05))  # ppc fell 25% while the budget fell 5%
    assert row["value_at_decision"] == 320.0 and row["value_after"] == 240.0
    assert "relative effect -20.0%" in row["summary"]


def test_a_temperature_s_action_is_judged_in_degrees_and_a_share_needs_a_positive_base():
    """A cold store's site b warmest at -14.54 C, then -15.14 while the whole store went from -14.0 to -14.2: it
    had read "+4.1% while the budget moved +1.4%". In degrees: -0.6 against -0.2, a relative effect of -0.4. A
    metric read in shares is not judged from a base at 0 or below (a net revenue's -40 to +20 is no -150%)."""
    values = cac_values().assign(metric_id="warmest", value=[-14.54, -15.14, -14.0, -14.2])
    action = cac_action(trigger_values=json.dumps({"warmest": -14.54}))
    (row,) = action_outcomes(action, values, in_units={("m", "warmest")})
    assert row["observed_effect"] == pytest.approx(-0.4)
    assert row["summary"].endswith("(-0.6) while the budget moved -0.2; relative effect -0.4")
    signed = cac_values().assign(metric_id="net", value=[-40.0, 20.0, 100.0, 110.0])
    assert action_outcomes(cac_action(trigger_values=json.dumps({"net": -40.0})), signed) == []


def test_an_action_is_judged_on_its_first_trigger_metric_at_its_grain_only():
    monthly = cac_action(period_grain="month", trigger_values=json.dumps({"cpl": 9.0, "cac": 1.0}))
    actions = pd.concat([cac_action(), monthly, cac_action(trigger_values="{}")], ignore_index=True)
    assert action_scopes(actions).to_dict("records") == [{"budget_id": "m", "grain": "week", "metric_id": "cac"},
                                                         {"budget_id": "m", "grain": "month", "metric_id": "cpl"}]
    other = cac_values().assign(metric_id="cpl", value=lambda v: v["value"] * 2)  # read by no week action
    everything = pd.concat([cac_values(), other], ignore_index=True)
    judged = everything.merge(action_scopes(cac_action()))
    assert action_outcomes(cac_action(), judged) == action_outcomes(cac_action(), everything)
    assert len(judged) == 4


def test_rule_action_with_a_forecast_is_judged_against_the_expected_path():
    action = cac_action(expected_next=300.0, expected_basis="forecast at decision time (theta)")
    (row,) = action_outcomes(action, cac_values())
    assert (row["observed_effect"], row["expected_effect"]) == (pytest.approx(-80.0), pytest.approx(-20.0))
    assert row["summary"].endswith("against 300 expected (forecast at decision time (theta)); difference -60")
