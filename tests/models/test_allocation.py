import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.allocation import build_problem, constraint_rows, recommendation_rows
from models.optimize import gain_interval, optimise
from models.spec import parse_spec
from tests.models.test_spec import VALID

YIELDS = {"web": 0.010, "mail": 0.025, "tv": 0.004}


def spec_with(**optimization):
    data = {**VALID, "optimization": {"objective": "orders", "lever": "revenue", "level": "channel", **optimization}}
    return parse_spec(data, "shop.yaml")


def history(weeks: int = 30, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(weeks):
        for channel, rate in YIELDS.items():
            spend = rng.uniform(2000, 6000)
            rows.append({"period_start": dt.date(2026, 1, 5) + dt.timedelta(weeks=w), "segment_id": channel,
                         "lever": spend, "objective": rate * spend + rng.normal(0, 2)})
    return pd.DataFrame(rows)


def test_history_becomes_a_problem_and_the_best_yield_gets_the_money():
    spec = spec_with(capacity=1000, bounds={"tv": {"min": 500}}, extrapolate=True)
    problem, basis = build_problem(spec, history())
    assert basis == dt.date(2026, 1, 5) + dt.timedelta(weeks=29)
    # whichever form AIC picks, the fitted curve's yield over the observed range matches the planted one
    marginal = {l.name: float(l.curve.predict(5000) - l.curve.predict(3000)) / 2000 for l in problem.levers}
    assert marginal == pytest.approx(YIELDS, abs=0.002)
    allocation = optimise(problem)
    assert allocation.recommended["tv"] == pytest.approx(500)
    assert allocation.recommended["mail"] == pytest.approx(problem.budget - 500, rel=1e-6)
    rows = recommendation_rows(spec, problem, allocation, basis, gain_interval(problem, allocation))
    assert {r["segment_id"] for r in rows} == set(YIELDS) and all(r["provenance"] == "predicted" for r in rows)
    neck = [r for r in constraint_rows(spec, problem, allocation, basis) if r["is_bottleneck"]]
    assert [r["constraint_name"] for r in neck] == ["budget"] and "holds orders back" in neck[0]["explanation"]


def test_budget_defaults_to_the_current_total():
    problem, basis = build_problem(spec_with(), history())
    current = history()
    assert problem.budget == pytest.approx(current[current["period_start"] == basis]["lever"].sum())


def test_clear_errors_for_short_history_and_unknown_segments():
    with pytest.raises(ValueError, match="need at least 6 complete weeks"):
        build_problem(spec_with(), history(weeks=4))
    with pytest.raises(ValueError, match="bounds names segments without history: radio"):
        build_problem(spec_with(bounds={"radio": {"max": 10}}), history())


def test_a_segment_of_a_lower_level_is_named_by_its_value_or_by_its_path():
    """Sites under regions have paths (north/n1); a bound or ratio may name a site by its value alone when no
    other site shares it, and must give the path when one does."""
    paths = {"web": "north/n1", "mail": "south/s1", "tv": "south/n1"}
    data = history().assign(segment_id=lambda h: h["segment_id"].map(paths))
    problem, _ = build_problem(spec_with(bounds={"s1": {"max": 100}, "south/n1": {"min": 50}}, extrapolate=True,
                                         ratios=[{"numerator": "s1", "denominator": "north/n1", "max_ratio": 2}]), data)
    by_name = {lever.name: lever for lever in problem.levers}
    assert by_name["south/s1"].maximum == 100 and by_name["south/n1"].minimum == 50
    assert problem.ratios[0].numerator == "south/s1" and problem.ratios[0].denominator == "north/n1"
    with pytest.raises(ValueError, match=r"names 'n1', which is 2 channel segments \(north/n1, south/n1\): give its path"):
        build_problem(spec_with(bounds={"n1": {"max": 10}}), data)
    with pytest.raises(ValueError, match="optimization.ratios names segments without history: s9"):
        build_problem(spec_with(ratios=[{"numerator": "s9", "denominator": "s1", "max_ratio": 2}]), data)
    with pytest.raises(ValueError, match="names one segment twice"):
        build_problem(spec_with(bounds={"s1": {"max": 10}, "south/s1": {"max": 20}}), data)


def test_spec_validates_the_optimization_section():
    from models.spec import SpecError

    with pytest.raises(SpecError, match="optimization.lever: 'conversion' must be a base metric with agg sum"):
        spec_with(lever="conversion")
    with pytest.raises(SpecError, match="optimization.level: unknown segment level 'chanel'"):
        spec_with(level="chanel")


def test_minimise_spend_for_a_floor_on_another_metric_with_whole_steps():
    """The cheapest spend reaching 300 orders: mail has the best yield (0.025 per unit), tv comes in steps."""
    spec = spec_with(objective="revenue", sense="minimise", limits=[{"metric": "orders", "min": 300}],
                     bounds={"tv": {"step": 1000}}, budget=50_000)
    data = history().assign(orders=lambda h: h["objective"])
    problem, _ = build_problem(spec, data)
    assert problem.sense == "minimise" and all(l.curve.slope == 1.0 for l in problem.levers)  # spend is itself
    orders = problem.limits[0]
    marginal = {k: float(c.predict(5000) - c.predict(3000)) / 2000 for k, c in orders.curves.items()}
    assert marginal == pytest.approx(YIELDS, abs=0.002)
    allocation = optimise(problem)
    # whichever curve forms AIC picked, tv moves in whole steps and mail (the best yield) carries the floor
    assert allocation.recommended["tv"] / 1000 == pytest.approx(round(allocation.recommended["tv"] / 1000), abs=1e-9)
    assert ("mixed-integer" in allocation.solver) or ("whole steps" in allocation.solver)
    reached = sum(orders.curves[k].predict(v) for k, v in allocation.recommended.items())
    assert reached == pytest.approx(300, rel=1e-6) and allocation.recommended["mail"] > 10_000
    floor = next(c for c in allocation.constraints if c.name == "minimum orders")
    assert floor.binding and floor.shadow_price > 0


def test_spec_validates_limits():
    from models.spec import SpecError

    with pytest.raises(SpecError, match="optimization.limits.0.metric: 'conversion' must be a base metric"):
        spec_with(limits=[{"metric": "conversion", "max": 1}])
    with pytest.raises(SpecError, match="give max, min or both"):
        spec_with(limits=[{"metric": "orders"}])
    with pytest.raises(SpecError, match="step"):
        spec_with(bounds={"tv": {"step": 0}})


def test_levers_history_cannot_support_moving_are_held_with_their_reason():
    data = history()
    rng = np.random.default_rng(9)
    noise = data["segment_id"] == "tv"
    data.loc[noise, "objective"] = 20 + rng.normal(0, 2, noise.sum())  # tv's orders ignore its spend
    last = data["period_start"].max()
    data = data[~((data["segment_id"] == "web") & (data["period_start"] == last))]  # web paused in the basis week
    problem, basis = build_problem(spec_with(extrapolate=True), data)
    levers = {l.name: l for l in problem.levers}
    tv_now = float(data[(data["segment_id"] == "tv") & (data["period_start"] == last)]["lever"].iloc[0])
    assert "no measurable response" in levers["tv"].held and levers["tv"].minimum == levers["tv"].maximum == tv_now
    assert "no revenue in the basis period" in levers["web"].held and levers["web"].maximum == 0
    assert levers["mail"].held is None and levers["mail"].maximum is None
    allocation = optimise(problem)
    assert allocation.recommended["tv"] == pytest.approx(tv_now) and allocation.recommended["web"] == pytest.approx(0)
    assert allocation.recommended["mail"] == pytest.approx(problem.budget - tv_now, rel=1e-6)
    rows = recommendation_rows(spec_with(), problem, allocation, basis, gain_interval(problem, allocation))
    assert {r["segment_id"]: r["held_reason"] is not None for r in rows} == {"web": True, "mail": False, "tv": True}


def test_a_paused_lever_with_bounds_may_be_funded_again():
    data = history()
    data = data[~((data["segment_id"] == "web") & (data["period_start"] == data["period_start"].max()))]
    problem, _ = build_problem(spec_with(bounds={"web": {"max": 1000}}), data)
    web = next(l for l in problem.levers if l.name == "web")
    assert web.held is None and web.current == 0 and web.maximum == 1000


def test_a_held_lever_with_whole_steps_is_held_on_a_step_inside_its_bounds():
    from models.allocation import _hold_at
    from models.spec import LeverBounds

    assert _hold_at(95.0, LeverBounds(min=100, step=30)) == 120  # 90 is the nearest step, but below the minimum
    assert _hold_at(1000.0, LeverBounds(max=500, step=200)) == 400
    assert _hold_at(250.0, LeverBounds()) == 250


def test_when_spend_is_minimised_a_lever_is_held_on_the_floor_metric_it_does_not_move():
    data = history().assign(orders=lambda h: h["objective"])
    rng = np.random.default_rng(4)
    tv = data["segment_id"] == "tv"
    data.loc[tv, "orders"] = 20 + rng.normal(0, 2, tv.sum())  # tv's orders ignore its spend
    spec = spec_with(objective="revenue", sense="minimise", limits=[{"metric": "orders", "min": 150}])
    problem, _ = build_problem(spec, data)
    levers = {l.name: l for l in problem.levers}
    assert levers["tv"].held.startswith("no measurable response (orders to revenue: slope 95% interval")
    assert levers["mail"].held is None and levers["web"].held is None


def test_a_segment_too_young_or_gone_to_fit_is_held_and_the_rest_still_optimised():
    """A market that opened three weeks ago and one that closed after four: neither has the six periods a
    response curve needs; both are held (the young one at its basis spend and observed outcome, the closed
    one at nothing) and the others are optimised as before."""
    data = history()
    periods = sorted(data["period_start"].unique())
    young = pd.DataFrame({"period_start": periods[-3:], "segment_id": "app", "lever": [1000.0, 1500.0, 1200.0],
                          "objective": [30.0, 44.0, 37.0]})
    gone = pd.DataFrame({"period_start": periods[-12:-8], "segment_id": "print", "lever": 800.0,
                         "objective": [5.0, 6.0, 4.0, 5.0]})
    problem, basis = build_problem(spec_with(history_periods=12), pd.concat([data, young, gone], ignore_index=True))
    levers = {l.name: l for l in problem.levers}
    assert "need at least 6 observations with both values, got 3" in levers["app"].held
    assert levers["app"].minimum == levers["app"].maximum == 1200.0
    assert float(levers["app"].curve.predict(1200.0)) == 37.0  # what the basis period observed at that spend
    assert "no revenue in the basis period" in levers["print"].held and levers["print"].maximum == 0
    assert float(levers["print"].curve.predict(0.0)) == 0.0
    allocation = optimise(problem)
    assert allocation.recommended["app"] == 1200.0 and allocation.recommended["print"] == 0
    assert allocation.recommended["mail"] > allocation.current["mail"]  # the best yield still gets the money


def test_a_recommendation_beyond_the_spend_a_curve_was_fitted_on_is_marked_extrapolated():
    spec = spec_with(capacity=1000, bounds={"tv": {"min": 500}}, extrapolate=True)
    problem, basis = build_problem(spec, history())  # spends drawn from 2,000-6,000 a week
    allocation = optimise(problem)
    rows = {r["segment_id"]: r for r in recommendation_rows(spec, problem, allocation, basis,
                                                            gain_interval(problem, allocation))}
    # mail, the best yield, gets nearly the whole budget: far beyond any week it was measured on
    assert rows["mail"]["recommended"] > rows["mail"]["observed_high"] and rows["mail"]["extrapolated"]
    assert 2000 <= rows["web"]["observed_low"] < rows["web"]["observed_high"] <= 6000
    assert rows["tv"]["extrapolated"]  # 500, below its lowest week


DEPOT_YIELDS = {"n1": 6.0, "n2": 4.0, "n3": 5.0, "s1": 7.0, "s2": 3.0, "s3": 5.0}


def concave_history(weeks: int = 30, seed: int = 7) -> pd.DataFrame:
    """Weekly driver hours (480 +-30%) and deliveries 6 * a * (hours / 6) ** 0.6: diminishing returns that look
    linear over the hours any week saw."""
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(weeks):
        for depot, a in DEPOT_YIELDS.items():
            hours = 480 * rng.uniform(0.7, 1.3)
            rows.append({"period_start": dt.date(2026, 1, 5) + dt.timedelta(weeks=w), "segment_id": depot,
                         "lever": hours, "objective": 6 * a * (hours / 6) ** 0.6 + rng.normal(0, 10)})
    return pd.DataFrame(rows)


def true_deliveries(hours: dict[str, float]) -> float:
    return sum(6 * DEPOT_YIELDS[d] * (h / 6) ** 0.6 for d, h in hours.items())


def test_levers_stay_within_the_spend_their_curves_were_fitted_on():
    """Fitted on 340-620 hours a week, a curve's word about 0 or 2,000 hours is a guess: free, the optimiser cut
    depots to nothing on it and lost deliveries in truth while promising more. By default each lever stays in
    its history's range, and the recommendation gains in truth too."""
    data = concave_history()
    free, _ = build_problem(spec_with(objective="orders", extrapolate=True), data)
    free_allocation = optimise(free)
    assert min(free_allocation.recommended.values()) < 300 < 1000 < max(free_allocation.recommended.values())
    assert true_deliveries(free_allocation.recommended) < true_deliveries(free_allocation.current)

    problem, basis = build_problem(spec_with(objective="orders"), data)
    allocation = optimise(problem)
    for lever in problem.levers:
        low, high = lever.observed
        assert low - 1e-6 <= allocation.recommended[lever.name] <= high + 1e-6
    assert sum(allocation.recommended.values()) == pytest.approx(problem.budget, rel=1e-6)
    assert true_deliveries(allocation.recommended) > true_deliveries(allocation.current)
    rows = recommendation_rows(spec_with(), problem, allocation, basis, gain_interval(problem, allocation))
    assert not any(r["extrapolated"] for r in rows)
    # the best yields get their busiest week's hours, the worst their quietest
    assert allocation.recommended["s1"] == pytest.approx(problem.levers[3].observed[1], rel=1e-6)
    assert allocation.recommended["s2"] == pytest.approx(problem.levers[4].observed[0], rel=1e-6)


def test_an_owners_bound_or_budget_beyond_the_history_wins_over_it():
    data = concave_history(weeks=26)  # every week is in the curves' history
    seen = {s: (rows["lever"].min(), rows["lever"].max()) for s, rows in data.groupby("segment_id")}
    # a floor above n2's busiest week: held on it; a cap inside s1's range narrows it
    problem, _ = build_problem(spec_with(objective="orders", bounds={"n2": {"min": 700}, "s1": {"max": 500}}), data)
    levers = {l.name: l for l in problem.levers}
    assert seen["n2"][1] < 700 and levers["n2"].minimum == levers["n2"].maximum == 700
    assert levers["s1"].maximum == 500 and levers["s1"].minimum == pytest.approx(seen["s1"][0])
    # a budget above every busiest week together: the edges stretched by one factor just far enough to spend it
    highs = sum(high for _, high in seen.values())
    problem, basis = build_problem(spec_with(objective="orders", budget=1.2 * highs), data)
    assert sum(l.maximum for l in problem.levers) == pytest.approx(1.2 * highs)
    allocation = optimise(problem)
    assert sum(allocation.recommended.values()) == pytest.approx(1.2 * highs, rel=1e-6)
    rows = recommendation_rows(spec_with(), problem, allocation, basis, gain_interval(problem, allocation))
    assert all(r["extrapolated"] for r in rows)
    # a budget below every quietest week together: the floors shrunk alike
    lows = sum(low for low, _ in seen.values())
    problem, _ = build_problem(spec_with(objective="orders", budget=0.5 * lows), data)
    assert sum(l.minimum for l in problem.levers) == pytest.approx(0.5 * lows)
    assert sum(optimise(problem).recommended.values()) <= 0.5 * lows * (1 + 1e-6)
