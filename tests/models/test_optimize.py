"""The design's worked example, infeasibility diagnosis, concave curves and gain intervals."""

import numpy as np
import pytest

from models.optimize import InfeasibleAllocation, Lever, Problem, Ratio, gain_interval, optimise
from models.response import ResponseCurve, fit_response


def clinic(budget: float) -> Problem:
    """PPC: 1 new patient per 100 spent, sales per 80, consultants per 120; at most 150 new patients."""
    return Problem(levers=(Lever("ppc", ResponseCurve.linear(1 / 100)),
                           Lever("sales", ResponseCurve.linear(1 / 80)),
                           Lever("consultants", ResponseCurve.linear(1 / 120))),
                   budget=budget, capacity=150, outcome="new patients", spend="spend")


def test_worked_example_budget_binds():
    result = optimise(clinic(2000))
    assert result.expected_outcome == pytest.approx(25)
    assert result.recommended == pytest.approx({"ppc": 0, "sales": 2000, "consultants": 0})
    budget = next(c for c in result.constraints if c.name == "budget")
    capacity = next(c for c in result.constraints if c.name == "capacity")
    assert budget.binding and budget.shadow_price == pytest.approx(1 / 80)
    assert not capacity.binding and capacity.shadow_price == pytest.approx(0)
    assert result.bottleneck.name == "budget"


def test_worked_example_capacity_is_the_bottleneck_with_a_larger_budget():
    problem = clinic(20000)
    result = optimise(problem)
    assert result.expected_outcome == pytest.approx(150)
    budget = next(c for c in result.constraints if c.name == "budget")
    assert budget.shadow_price == pytest.approx(0) and not budget.binding
    assert result.bottleneck.name == "capacity" and result.bottleneck.shadow_price == pytest.approx(1)
    assert result.explain(problem).startswith("Capacity, not budget, is what holds new patients back")


def test_infeasible_problems_name_the_conflicting_constraints():
    problem = Problem(levers=(Lever("ppc", ResponseCurve.linear(0.01), minimum=1500),
                              Lever("sales", ResponseCurve.linear(0.0125), minimum=1000),
                              Lever("consultants", ResponseCurve.linear(0.008))),
                      budget=2000, capacity=150)
    with pytest.raises(InfeasibleAllocation) as err:
        optimise(problem)
    assert sorted(err.value.conflicting) == ["budget", "minimum ppc", "minimum sales"]


def test_ratio_and_bounds_are_respected():
    problem = Problem(levers=(Lever("ppc", ResponseCurve.linear(0.01), maximum=500),
                              Lever("sales", ResponseCurve.linear(0.0125))),
                      budget=2000, ratios=(Ratio("sales", "ppc", 2.0),))
    result = optimise(problem)
    assert result.recommended["ppc"] == pytest.approx(500) and result.recommended["sales"] == pytest.approx(1000)
    assert {c.name for c in result.binding} >= {"maximum ppc", "ratio sales <= 2 x ppc"}


def test_concave_curves_equalise_marginal_returns():
    # outcome_i = a_i * ln(1 + x / 100): the optimum gives every lever the same marginal return
    a = {"ppc": 40.0, "sales": 60.0}
    levers = tuple(Lever(n, ResponseCurve("log", 0.0, k, scale=100.0), current=500) for n, k in a.items())
    result = optimise(Problem(levers=levers, budget=1000))
    marginal = {n: a[n] / (100 + result.recommended[n]) for n in a}
    assert sum(result.recommended.values()) == pytest.approx(1000, rel=1e-6)
    assert marginal["ppc"] == pytest.approx(marginal["sales"], rel=1e-3)
    assert result.gain > 0 and result.bottleneck.name == "budget"
    assert result.bottleneck.shadow_price == pytest.approx(marginal["sales"], rel=0.02)


@pytest.mark.parametrize("form, truth, noise", [("linear", 0.012, 3.0), ("log", 20.0, 0.5)])
def test_response_curves_recover_planted_parameters_with_honest_intervals(form, truth, noise):
    covered, chosen = 0, 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        spend = rng.uniform(1000, 9000, 80)
        signal = truth * spend if form == "linear" else truth * np.log1p(spend / np.median(spend))
        curve = fit_response(spend, 5 + signal + rng.normal(0, noise, 80))
        chosen += curve.form == form
        low, high = curve.slope_interval(0.95)
        covered += low < truth < high
    assert chosen >= 190  # the right form wins the AIC comparison
    assert 0.91 <= covered / 200 <= 0.98  # a 95% interval covers the planted slope about 95% of the time


def test_gain_interval_widens_with_uncertainty_and_is_seeded():
    rng = np.random.default_rng(3)
    spend = rng.uniform(100, 900, 40)
    curves = {"a": fit_response(spend, 0.02 * spend + rng.normal(0, 2, 40)),
              "b": fit_response(spend, 0.03 * spend + rng.normal(0, 2, 40))}
    problem = Problem(levers=tuple(Lever(n, c, current=500) for n, c in curves.items()), budget=1000)
    result = optimise(problem)
    low, high = gain_interval(problem, result)
    assert low < result.gain < high and high - low > 0
    assert gain_interval(problem, result) == (low, high)
    exact = clinic(2000)
    assert gain_interval(exact, optimise(exact)) == pytest.approx((25.0, 25.0))


@pytest.mark.parametrize("spend, outcome, message", [
    ([1, 2, 3], [1, 2, 3], "at least 6"),
    ([5] * 8, list(range(8)), "never varies"),
    ([-1, 2, 3, 4, 5, 6], [1] * 6, "must not be negative"),
])
def test_response_curve_input_errors(spend, outcome, message):
    with pytest.raises(ValueError, match=message):
        fit_response(spend, outcome)


def test_concave_problems_name_conflicting_constraints_too():
    levers = (Lever("ppc", ResponseCurve("log", 0.0, 40.0, scale=100.0), minimum=1500),
              Lever("sales", ResponseCurve("log", 0.0, 60.0, scale=100.0)))
    with pytest.raises(InfeasibleAllocation) as err:
        optimise(Problem(levers=levers, budget=1000))
    assert sorted(err.value.conflicting) == ["budget", "minimum ppc"]
