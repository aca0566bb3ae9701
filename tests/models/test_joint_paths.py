"""Re-paired forecast paths: each metric's own distribution untouched, their co-movement the history's."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from models.joint_paths import change_correlation, pair_paths, pair_steps
from models.projections import forecast_scope
from models.spec import BudgetSpec

RATE_SPEC = BudgetSpec.model_validate({
    "id": "rates", "name": "Rates", "owner": "o", "allocation": {"amount": 1, "currency": "USD", "period": "year"},
    "value_chain": ["acquire"], "segments": {"levels": ["channel"]},
    "measures": {"signup": {}, "activation": {}, "spend": {}},
    "metrics": {"signups": {"measure": "signup", "agg": "count", "step": "acquire", "roles": ["north_star"]},
                "activations": {"measure": "activation", "agg": "count", "step": "acquire"},
                "spend": {"measure": "spend", "agg": "sum", "step": "acquire"},
                "activation_rate": {"formula": "activations / signups", "step": "acquire"},
                "spend_per_signup": {"formula": "spend / signups", "step": "acquire"}},
    "source": {"kind": "demo", "scenario": "none"}})


def test_the_correlation_of_changes_reads_shared_moves_and_ignores_a_shared_weekly_pattern():
    rng = np.random.default_rng(0)
    n = 200
    week = np.tile([1.2, 1.1, 1.0, 1.0, 1.0, 0.4, 0.3], n // 7 + 1)[:n]
    level = 100 + np.cumsum(rng.normal(0, 3, n))
    history = pd.DataFrame({"a": level * week, "b": 0.4 * level * week + rng.normal(0, 0.5, n),
                            "c": 50 * week + rng.normal(0, 2, n), "d": -level * week})
    corr = change_correlation(history, lag=7)
    assert np.allclose(np.diag(corr), 1) and np.all(np.linalg.eigvalsh(corr) > -1e-9)
    assert corr[0, 1] > 0.9 and corr[0, 3] < -0.99
    assert abs(corr[0, 2]) < 0.2  # c shares only the weekday pattern, which a 7-day change removes
    assert change_correlation(history, lag=1)[0, 2] > 0.8  # day-to-day changes are all weekday pattern
    with pytest.raises(ValueError, match="at least 1"):
        change_correlation(history, lag=0)


def test_a_pair_seen_fewer_than_eight_times_together_is_unrelated():
    history = pd.DataFrame({"a": [1, 2, 3, 4, 5, 6, np.nan, np.nan, np.nan, np.nan], "b": np.arange(10.0)})
    assert change_correlation(history, lag=1)[0, 1] == 0


def test_totals_over_many_periods_correlate_by_what_the_metrics_share():
    """Daily noise of their own averages out of a four-week total; the level both follow does not."""
    rng = np.random.default_rng(1)
    level = 200 * np.exp(np.cumsum(rng.normal(0, 0.03, 400)))
    signups = rng.poisson(level)
    history = pd.DataFrame({"s": signups, "a": rng.binomial(signups, 0.4)}).astype(float)
    daily, monthly = change_correlation(history, 1)[0, 1], change_correlation(history, 1, span=28)[0, 1]
    assert daily < 0.75 and monthly > 0.9


def test_re_paired_paths_keep_each_metric_and_take_the_target_rank_correlation():
    rng = np.random.default_rng(2)
    paths = [rng.normal(0, 1, (1000, 5)).cumsum(axis=1), rng.gamma(2, 1, (1000, 5)), rng.normal(5, 1, (1000, 5))]
    corr = np.array([[1, 0.8, -0.5], [0.8, 1, -0.4], [-0.5, -0.4, 1]])
    paired = pair_paths(paths, corr, seed=3)
    for before, after in zip(paths, paired):  # the same rows, reordered: every path is still one of its own
        assert np.array_equal(np.sort(before.view([("", float)] * 5), axis=0), np.sort(after.view([("", float)] * 5), axis=0))
    totals = np.column_stack([p.sum(axis=1) for p in paired])
    rank = spearmanr(totals).statistic
    # normal scores of correlation r have rank correlation (6 / pi) asin(r / 2)
    assert np.allclose(rank, 6 / np.pi * np.arcsin(corr / 2), atol=0.05)
    stepped = pair_steps(paired, corr, seed=4)
    for before, after in zip(paired, stepped):
        assert np.array_equal(np.sort(before, axis=0), np.sort(after, axis=0))
    assert all(abs(spearmanr(stepped[0][:, s], stepped[1][:, s]).statistic - 6 / np.pi * np.arcsin(0.4)) < 0.05
               for s in range(5))
    with pytest.raises(ValueError, match="one shape"):
        pair_paths([paths[0], paths[1][:10]], corr[:2, :2], seed=0)


def _simulated(seed: int, days: int):
    """Signups on a wandering level with a weekly pattern, activations a steady 40% of them, spend unrelated."""
    rng = np.random.default_rng(seed)
    level = 200 * np.exp(np.cumsum(rng.normal(0, 0.03, days)))
    signups = rng.poisson(level * np.tile([1.1, 1.15, 1.1, 1.05, 1.0, 0.6, 0.55], days // 7 + 1)[:days])
    series = {"signups": signups, "activations": rng.binomial(signups, 0.4),
              "spend": 1000 + np.cumsum(rng.normal(0, 20, days))}
    return {k: np.asarray(v, float) for k, v in series.items()}


def test_a_rate_of_two_metrics_that_move_together_gets_the_spread_of_the_rate_not_of_both():
    """Forecast apart, activations and signups drawn independently gave the rate 95% intervals covering 99.7%
    of days (width 0.38 for a rate of 0.40 +- 0.016); re-paired they cover close to 95%. A rate of unrelated
    metrics (spend per signup) keeps its coverage."""
    history_days, horizon = 200, 28
    starts = [dt.date(2025, 1, 1) + dt.timedelta(d) for d in range(history_days + horizon)]
    covered, widths, pooled_sd, pooled_error, unrelated = [], [], [], [], []
    for seed in range(8):
        series = _simulated(seed, history_days + horizon)
        history = pd.DataFrame([{"metric_id": m, "period_start": starts[i], "value": v[i]}
                                for m, v in series.items() for i in range(history_days)])
        result = forecast_scope(RATE_SPEC, "day", history, horizon, ("_total", "_total"))
        rate, truth = result["activation_rate"], series["activations"][history_days:] / series["signups"][history_days:]
        covered.append(np.mean((truth >= rate.lo95) & (truth <= rate.hi95)))
        widths.append(np.mean(rate.hi95 - rate.lo95))
        # what a goal over the four weeks reads: the inputs' whole paths, summed along each path
        pooled = result["activations"].paths.sum(axis=1) / result["signups"].paths.sum(axis=1)
        pooled_sd.append(pooled.std())
        pooled_error.append(np.median(pooled) - series["activations"][history_days:].sum() / series["signups"][history_days:].sum())
        cost, cost_truth = result["spend_per_signup"], series["spend"][history_days:] / series["signups"][history_days:]
        unrelated.append(np.mean((cost_truth >= cost.lo95) & (cost_truth <= cost.hi95)))
    # width measured 0.245 with each metric's in-sample errors, 0.270 since signups' wandering level takes its errors
    # from past origins (200 days hold six 28-day spans); drawn independently: 0.38
    assert 0.88 <= np.mean(covered) <= 0.985 and np.mean(widths) < 0.3
    # the paths' spread of the pooled rate is the size of its actual error (independent paths: 4x too wide)
    assert 0.5 < np.mean(pooled_sd) / np.std(pooled_error) < 2
    assert np.mean(unrelated) >= 0.9


def test_a_rate_whose_draws_lie_below_its_point_keeps_its_bands_in_order():
    """A cost per customer of a day's one or two customers: draws with none are undefined and left out, and the
    rest lay below spend / mean customers; hi95 came out below hi80 (= the point)."""
    rng = np.random.default_rng(11)
    days = [dt.date(2026, 1, 1) + dt.timedelta(d) for d in range(46)]
    spend = 270 + rng.normal(0, 20, 46)
    customers = rng.poisson(1.0, 46).astype(float)
    history = pd.DataFrame([{"metric_id": m, "period_start": d, "value": v}
                            for m, values in (("spend", spend), ("signups", customers)) for d, v in zip(days, values)])
    f = forecast_scope(RATE_SPEC, "day", history, 30, ("_total", "_total"))["spend_per_signup"]
    assert np.all(f.lo95 <= f.lo80) and np.all(f.lo80 <= f.mean) and np.all(f.mean <= f.hi80)
    assert np.all(f.hi80 <= f.hi95)
