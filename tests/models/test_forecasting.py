"""The forecaster, its accuracy measures and the M4 bench, on series with known answers."""

import numpy as np
import pytest

from models.forecasting import forecast
from models.forecasting.accuracy import coverage, mase, msis, naive2, owa, rmsse, smape
from models.forecasting.backtest import rolling_origin
from models.forecasting.direct_ar import fit_direct_ar
from models.forecasting.seasonality import is_seasonal


def seasonal_series(n, period=7, trend=0.1, noise=1.0, seed=0, level=100.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level + trend * t + 10 * np.sin(2 * np.pi * t / period) + rng.normal(0, noise, n)


def test_accuracy_measures_match_hand_computed_values():
    assert smape([100, 200], [110, 180]) == pytest.approx(np.mean([200 * 10 / 210, 200 * 20 / 380]))
    history = np.array([1.0, 3, 2, 4])  # one-step naive errors 2, 1, 2 → scale 5/3
    assert mase(history, [5, 5], [4, 6], 1) == pytest.approx(1 / (5 / 3))
    assert rmsse(history, [5, 5], [4, 6], 1) == pytest.approx(np.sqrt(1 / 3))
    assert coverage([1, 2, 3, 4], [0, 0, 0, 5], [2, 2, 2, 6]) == 0.5
    # interval width 2, one miss by 1 at alpha 0.05 → penalty 40 on one of two points
    assert msis(history, [1, 3], [0, 0], [2, 2], 1) == pytest.approx((2 + (2 + 40)) / 2 / (5 / 3))
    assert owa(9.161, 2.777, 9.161, 2.777) == pytest.approx(1.0)
    assert list(naive2(np.array([3.0, 4, 5]), 2, 1)) == [5, 5]


def test_seasonality_test_finds_the_planted_cycle_only():
    assert is_seasonal(seasonal_series(200), 7)
    assert not is_seasonal(np.random.default_rng(1).normal(size=200), 7)
    assert not is_seasonal(seasonal_series(15), 7)  # fewer than three cycles


def test_direct_ar_learns_a_planted_seasonal_pattern():
    y = seasonal_series(400, noise=0.2)
    f = forecast(y, 14, (7,))
    truth = 100 + 0.1 * np.arange(400, 414) + 10 * np.sin(2 * np.pi * np.arange(400, 414) / 7)
    assert f.method == "direct_ar" and f.period == 7
    assert np.max(np.abs(f.mean - truth)) < 1.5
    assert np.all(f.lo95 <= f.lo80) and np.all(f.lo80 <= f.mean) and np.all(f.hi95 >= f.hi80)


def test_intervals_cover_about_their_nominal_share():
    hits80, hits95 = [], []
    for seed in range(40):
        y = seasonal_series(330, seed=seed, noise=3.0)
        f = forecast(y[:300], 30, (7,))
        hits80.append(coverage(y[300:], f.lo80, f.hi80))
        hits95.append(coverage(y[300:], f.lo95, f.hi95))
    assert 0.7 <= np.mean(hits80) <= 0.92
    assert 0.88 <= np.mean(hits95) <= 0.995


def test_short_series_choose_by_holdout_and_record_the_scores():
    f = forecast(seasonal_series(18), 5, (7, 365))  # too short for the direct AR
    assert f.method in {"seasonal_naive", "damped_ets", "theta"}
    assert set(f.holdout_rmsse) >= {"seasonal_naive", "damped_ets", "theta"}
    assert f.method == min(f.holdout_rmsse, key=f.holdout_rmsse.get)


@pytest.mark.parametrize("values, method", [([5.0] * 20, "constant"), ([7.0], "constant"), ([1.0, 2.0], "seasonal_naive")])
def test_degenerate_series_give_sane_forecasts(values, method):
    f = forecast(values, 3)
    assert f.method == method and np.all(np.isfinite(f.mean)) and np.all(f.lo95 <= f.hi95)


def test_intermittent_non_negative_series_never_go_below_zero():
    rng = np.random.default_rng(3)
    y = np.where(rng.uniform(size=120) < 0.7, 0.0, rng.poisson(4, 120).astype(float))
    f = forecast(y, 10, (7,))
    assert f.method in {"croston_sba", "seasonal_naive"}
    assert np.all(f.lo95 >= 0) and f.mean[0] > 0  # the mean demand, not a string of zeros


def test_level_shift_reanchors_on_the_new_level():
    y = np.r_[seasonal_series(200, trend=0), seasonal_series(100, trend=0, seed=2) + 200]
    f = forecast(y, 7, (7,))
    assert 270 < np.mean(f.mean) < 330


def test_missing_values_are_interpolated_and_bad_input_rejected():
    y = seasonal_series(100)
    y[[10, 50]] = np.nan
    assert np.all(np.isfinite(forecast(np.r_[np.nan, y], 5, (7,)).mean))
    with pytest.raises(ValueError, match="infinite"):
        forecast([1.0, np.inf, 2.0], 3)
    with pytest.raises(ValueError, match="horizon"):
        forecast([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="no finite"):
        forecast([np.nan, np.nan], 2)


def test_paths_are_seeded_joint_and_consistent_with_the_intervals():
    y = seasonal_series(300)
    a, b = forecast(y, 10, (7,), paths=500, seed=4), forecast(y, 10, (7,), paths=500, seed=4)
    assert a.paths.shape == (500, 10) and np.array_equal(a.paths, b.paths)
    inside = np.mean((a.paths >= a.lo95) & (a.paths <= a.hi95))
    assert inside > 0.85


def test_direct_ar_refuses_a_history_too_short_for_its_lags():
    with pytest.raises(ValueError, match="needs"):
        fit_direct_ar(np.arange(20.0), 8, 5)


def test_backtest_beats_seasonal_naive_on_a_trending_seasonal_series():
    scores = rolling_origin(seasonal_series(200, trend=0.5), 7, (7,), origins=4)
    assert len(scores) == 4
    assert np.median([m for m, _ in scores]) < np.median([n for _, n in scores])


@pytest.mark.parametrize("name", ["seasonal_naive", "damped_ets", "theta", "croston_sba"])
def test_a_candidate_asked_for_no_quantiles_gives_the_same_point_forecast(name):
    # holdout scoring asks for points only; theta then skips its intervals' variance
    from models.forecasting import candidates
    from models.forecasting.forecaster import POINT_ONLY, PROBABILITIES

    rng = np.random.default_rng(3)
    y = 50 + 10 * np.sin(np.arange(120) * 2 * np.pi / 12) + rng.normal(0, 2, 120)
    if name == "croston_sba":
        y = np.where(rng.random(120) < 0.7, 0.0, np.round(y))
    run = getattr(candidates, name)
    mean, quantiles = run(y, 8, 12, PROBABILITIES)
    point, none = run(y, 8, 12, POINT_ONLY)
    np.testing.assert_array_equal(point, mean)
    assert quantiles.shape == (len(PROBABILITIES), 8) and none.shape == (0, 8)


def test_theta_interval_variance_recovers_a_known_arima011_and_agrees_with_statsmodels():
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from models.forecasting.candidates import arima011_innovation_variance

    rng = np.random.default_rng(11)
    e = rng.normal(0, 2.0, 3001)  # sigma^2 = 4, drift 0.3, MA coefficient -0.5
    y = np.cumsum(0.3 + e[1:] - 0.5 * e[:-1])
    assert arima011_innovation_variance(y) == pytest.approx(4.0, rel=0.05)
    short = y[:150]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = float(np.asarray(SARIMAX(short, order=(0, 1, 1), trend="c").fit(disp=False).params)[-1])
    assert arima011_innovation_variance(short) == pytest.approx(exact, rel=0.05)
    assert arima011_innovation_variance(np.array([1.0, 2.0, 4.0])) == pytest.approx(0.25)  # two changes: their variance


def test_direct_ar_on_its_short_fallback_lags_competes_in_the_holdout():
    rng = np.random.default_rng(7)
    week = np.arange(100)
    y = 500 + 2.0 * week + 40 * np.sin(2 * np.pi * week / 52) + rng.normal(0, 8, 100)
    short = forecast(y, 13, (52,))  # 100 points: too few for 53 lags, enough for the 14-lag fallback
    assert "direct_ar" in short.holdout_rmsse and len(short.holdout_rmsse) > 1
    assert short.method == min(short.holdout_rmsse, key=short.holdout_rmsse.get)
    long = forecast(np.tile(y, 3), 13, (52,))  # 300 points: a full cycle of lags, no holdout
    assert long.method == "direct_ar" and long.holdout_rmsse == {}
