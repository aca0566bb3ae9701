"""The forecaster, its accuracy measures and the M4 bench, on series with known answers."""

import datetime as dt

import numpy as np
import pytest

from models.forecasting import forecast
from models.forecasting.accuracy import coverage, mase, msis, naive2, owa, rmsse, smape
from models.forecasting.backtest import rolling_origin
from models.forecasting.direct_ar import fit_direct_ar
from models.forecasting.forecaster import intermittent
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


def test_short_series_take_the_median_of_every_candidate_step_by_step():
    from models.forecasting import candidates
    from models.forecasting.forecaster import PROBABILITIES

    y = seasonal_series(18)  # too short for the direct AR
    f = forecast(y, 5, (7, 365))
    assert f.method == "median(damped_ets, seasonal_naive, theta)" and f.holdout_rmsse == {}
    runs = [getattr(candidates, name)(y, 5, 1, PROBABILITIES) for name in ("damped_ets", "seasonal_naive", "theta")]
    np.testing.assert_allclose(f.mean, np.median([mean for mean, _ in runs], axis=0))
    np.testing.assert_allclose(f.lo95, np.median([q[0] for _, q in runs], axis=0))
    np.testing.assert_allclose(f.hi80, np.median([q[2] for _, q in runs], axis=0))


def test_a_failing_candidate_is_left_out_of_the_median():
    from models.forecasting import candidates
    from models.forecasting.forecaster import PROBABILITIES, _median

    def broken(y, horizon, period, probabilities):
        raise ArithmeticError("no fit")

    y = seasonal_series(30)
    found = {"broken": broken, "seasonal_naive": candidates.seasonal_naive, "theta": candidates.theta}
    name, mean, _ = _median(found, y, 4, 1)
    assert name == "median(seasonal_naive, theta)"
    two = [run(y, 4, 1, PROBABILITIES)[0] for run in (candidates.seasonal_naive, candidates.theta)]
    np.testing.assert_allclose(mean, (two[0] + two[1]) / 2)  # the median of two forecasts is their mean
    assert _median({"broken": broken}, y, 4, 1)[0] == "seasonal_naive"
    assert _median({"broken": broken, "theta": candidates.theta}, y, 4, 1)[0] == "theta"


@pytest.mark.parametrize("values, method", [([5.0] * 20, "constant"), ([7.0], "constant"), ([1.0, 2.0], "seasonal_naive")])
def test_degenerate_series_give_sane_forecasts(values, method):
    f = forecast(values, 3)
    assert f.method == method and np.all(np.isfinite(f.mean)) and np.all(f.lo95 <= f.hi95)


def test_intermittent_non_negative_series_never_go_below_zero():
    rng = np.random.default_rng(3)
    y = np.where(rng.uniform(size=120) < 0.7, 0.0, rng.poisson(4, 120).astype(float))
    f = forecast(y, 10, (7,))
    # no weekly season in it: the seasonal naive (the last day, over and over) is not asked
    assert f.method == "croston_sba" and f.holdout_rmsse == {}
    assert np.all(f.lo95 >= 0) and f.mean[0] > 0  # the mean demand, not a string of zeros


def test_a_business_closed_at_weekends_is_not_intermittent():
    """80 a weekday, closed on Saturdays, Sundays and ten holidays: 31% zeros, all of them closed days. Read as
    intermittent, Croston's flat rate spread the weekdays' volume over the weekends (57 a day, later shut): the
    weekdays ahead must come out at their own level. Random zeros on open days still make a series intermittent."""
    rng = np.random.default_rng(5)
    y = np.array([0.0 if i % 7 in (5, 6) else float(rng.poisson(80)) for i in range(500)])
    y[rng.choice([i for i in range(500) if i % 7 < 5], 10, replace=False)] = 0.0
    assert np.mean(y == 0) >= 0.3 and intermittent(y, (7, 365)) is False
    f = forecast(y, 103, (7, 365))
    weekdays = [i for i in range(103) if (500 + i) % 7 not in (5, 6)]
    assert f.method != "croston_sba" and np.mean(f.mean[weekdays]) == pytest.approx(80 * 0.98, rel=0.05)
    sparse = np.where(rng.uniform(size=500) < 0.35, 0.0, y)  # 35% of the open days without demand as well
    assert intermittent(sparse, (7, 365))
    assert intermittent(y, ())  # without a weekly period to tell closed days by, zeros are zeros


def test_an_intermittent_series_without_a_season_is_not_forecast_as_its_last_day():
    y = np.random.default_rng(6).poisson(1, 90).astype(float)  # 31% zeros, 1.16 a day
    f = forecast(y, 60, (7, 365), paths=500, seed=6)
    assert f.method == "croston_sba" and f.mean.sum() == pytest.approx(60 * y.mean(), rel=0.25)


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


def test_direct_ar_on_its_short_fallback_lags_joins_the_median():
    rng = np.random.default_rng(7)
    week = np.arange(100)
    y = 500 + 2.0 * week + 40 * np.sin(2 * np.pi * week / 52) + rng.normal(0, 8, 100)
    short = forecast(y, 13, (52,))  # 100 points: too few for 53 lags, enough for the 14-lag fallback
    assert short.method == "median(damped_ets, direct_ar, seasonal_naive, theta)"
    long = forecast(np.tile(y, 3), 13, (52,))  # 300 points: a full cycle of lags, the direct AR alone
    assert long.method == "direct_ar" and long.holdout_rmsse == {}


def test_theta_agrees_with_statsmodels_theta_model_and_recovers_a_known_smoothing_weight():
    import warnings

    from statsmodels.tsa.forecasting.theta import ThetaModel

    from models.forecasting.candidates import _ses_weight, theta

    rng = np.random.default_rng(5)
    seasonal = 200 + 0.5 * np.arange(96) + 30 * np.sin(2 * np.pi * np.arange(96) / 12) + rng.normal(0, 4, 96)
    trending = np.cumsum(rng.normal(1.0, 3.0, 60)) - 40  # crosses zero: never deseasonalised
    for y, period, deseasonalize in ((seasonal, 12, True), (trending, 12, False), (seasonal, 1, False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ThetaModel(y, period=period if deseasonalize else 1, deseasonalize=deseasonalize).fit()
            reference = np.asarray(fit.forecast(10), float)
        np.testing.assert_allclose(theta(y, 10, period, np.empty(0))[0], reference, rtol=1e-5)
    e = rng.normal(0, 1.0, 4001)  # a local level with smoothing weight 0.3: y_t = l_(t-1) + e_t
    level = 50 + np.cumsum(0.3 * e)
    y = np.r_[50.0, level[:-1] + e[1:]]
    assert _ses_weight(y) == pytest.approx(0.3, abs=0.03)


def test_theta_bands_widen_as_smoothing_with_drift_does():
    from models.forecasting.candidates import theta

    rng = np.random.default_rng(21)
    e = rng.normal(0, 1.0, 3001)  # a local level with smoothing weight 0.3: h-step sd sqrt(1 + (h - 1) 0.09)
    level = 100 + np.cumsum(0.3 * e)
    y = np.r_[100.0, level[:-1] + e[1:]]
    mean, (lo95, hi95) = theta(y, 30, 1, np.array([0.025, 0.975]))
    half = (hi95 - lo95) / 2 / 1.959964
    expected = np.sqrt(1 + np.arange(30) * 0.09)
    np.testing.assert_allclose(half / half[0], expected, rtol=0.1)
    assert half[0] == pytest.approx(1.0, rel=0.1)
    # statsmodels' formula, (1 + (h - 1)(1 + (alpha - 1)^2)), would give sqrt(1 + 29 * 1.49) = 6.7 at step 30
    assert half[-1] < 2.0


def test_theta_bands_follow_a_multiplicative_season():
    from models.forecasting.candidates import theta

    rng = np.random.default_rng(22)
    t = np.arange(120)
    factors = 1 + 0.5 * np.sin(2 * np.pi * t / 12)
    y = 100 * factors * (1 + rng.normal(0, 0.02, 120))
    mean, (lo95, hi95) = theta(y, 12, 12, np.array([0.025, 0.975]))
    widths = hi95 - lo95
    future = 1 + 0.5 * np.sin(2 * np.pi * np.arange(120, 132) / 12)
    assert np.corrcoef(widths, future)[0, 1] > 0.95  # wide at the peaks, narrow in the troughs
    assert np.max(widths) < 15  # the season's swings (±50) are not counted as noise


def test_joint_errors_keep_each_step_standard_normal_and_sum_as_a_local_level():
    from models.forecasting.forecaster import _level_weight, joint_errors

    steps = np.arange(40)
    assert _level_weight(np.sqrt(4 * (1 + steps * 0.25))) == pytest.approx(0.5)
    assert _level_weight(np.full(40, 3.0)) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(0)
    for c in (0.0, 0.5):
        z = joint_errors(rng, 20000, np.sqrt(1 + steps * c ** 2))
        np.testing.assert_allclose(z.mean(axis=0), 0, atol=0.05)
        np.testing.assert_allclose(z.std(axis=0), 1, atol=0.05)
        # the total of the unscaled errors e_h = c (u_0 + ... + u_(h-1)) + u_h (steps from 0): each e_h has
        # variance 1 + c^2 h, a pair h < k covariance c^2 h + c (u_h is in e_k's sum)
        e = z * np.sqrt(1 + steps * c ** 2)
        n = len(steps)
        expected = n + c ** 2 * np.minimum.outer(steps, steps).sum() + c * n * (n - 1)
        assert np.var(e.sum(axis=1)) == pytest.approx(expected, rel=0.05)


def test_the_interval_of_a_long_total_of_noise_is_about_as_wide_as_its_errors():
    covered, widths, errors = [], [], []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        y = 10 + rng.normal(0, 2, 180)  # daily noise around a level: short history, long horizon
        f = forecast(y[:60], 120, (7,), paths=2000, seed=seed)
        low, high = np.quantile(f.paths.sum(axis=1), [0.025, 0.975])
        covered.append(low <= y[60:].sum() <= high)
        widths.append(high - low)
        errors.append(y[60:].sum() - f.mean.sum())
    assert np.mean(covered) >= 0.85
    # a 95% band as wide as the totals' errors spread is 3.92 of their standard deviation (here 344).
    # Measured median widths: 5,812 with every step moving together and Theta's bands as statsmodels widens
    # them, 1,181 with Theta's bands mended, 634 now.
    assert np.median(widths) < 2.5 * 3.92 * np.std(errors)


def test_direct_ar_needs_as_many_windows_as_steps_ahead():
    from models.forecasting.direct_ar import min_length

    assert min_length(8, 5) == 8 + 5 + 16 and min_length(8, 30) == 8 + 30 + 30
    covered = []
    for seed in range(40):
        rng = np.random.default_rng(300 + seed)
        y = 50 + np.cumsum(rng.normal(0, 1, 90))  # a random walk: 60 days known, 30 ahead
        f = forecast(y[:60], 30, (7,), paths=1000, seed=seed)
        assert f.method.startswith("median(")  # 23 windows for 30 steps: too few for the direct AR
        low, high = np.quantile(f.paths.sum(axis=1), [0.025, 0.975])
        covered.append(low <= y[60:].sum() <= high)
    assert np.mean(covered) >= 0.85  # the direct AR's own error windows covered 41% (measured)


def test_direct_ar_reads_a_steady_trend_as_differences_and_compound_growth_as_ratios():
    rng = np.random.default_rng(8)
    t = np.arange(790)
    linear = 10 + 0.05 * t + rng.normal(0, 1, 790)  # the same step each day: ratios shrink as the level grows
    compound = 10 * np.exp(0.002 * t) * np.exp(rng.normal(0, 0.05, 790))
    assert not fit_direct_ar(linear[:700], 8, 90).log and fit_direct_ar(compound[:700], 8, 90).log
    f = forecast(linear[:700], 90, (7,))
    # read as ratios, the early growth rate (0.5% a day at level 10) carried on: MASE 1.741 (0.757 now)
    assert mase(linear[:700], linear[700:], f.mean, 7) < 1.0


def _in_sample_errors(model, y: np.ndarray) -> np.ndarray:
    """The fitted model's own h-step errors on every window of ``y``, before any widening."""
    from models.forecasting.direct_ar import _design

    X, Y = _design(model._transform(y), model.lags, model.coef.shape[1])
    return Y - X @ model.coef


def test_a_long_horizon_on_a_short_history_takes_its_errors_from_past_origins():
    held, widened = [], []
    for seed in range(120):
        y = 200 + np.cumsum(np.random.default_rng(seed).standard_normal(340))  # a random walk: 250 days, 90 ahead
        f = forecast(y[:250], 90, (7,), paths=500, seed=seed)
        assert f.method == "direct_ar"
        low, high = np.quantile(f.paths.sum(axis=1), [0.025, 0.975])
        held.append(low <= y[250:].sum() <= high)
        model = fit_direct_ar(y[:250], 8, 90)
        widened.append(np.std(model.residuals[:, -1]) / np.std(_in_sample_errors(model, y[:250])[:, -1]))
    # 153 windows hold under two 90-day spans: the in-sample errors (intercept fitted on them) held the total 64%
    # of the time (measured), the errors of refits at past origins 78%
    assert np.mean(held) >= 0.72
    assert np.median(widened) > 1.4  # measured 1.7 (the degrees of freedom alone: 1.03)


def test_long_lags_are_refitted_at_fewer_past_origins_and_still_widened():
    from models.forecasting.direct_ar import _past_origins

    short = _past_origins(250 - 8 - 90 + 1, 8, 90)  # 48 origins from window 105 (two windows per coefficient)
    assert len(short) == 40 and short[0] == 105 and short[-1] == 152
    year = _past_origins(1300 - 366 - 90 + 1, 366, 90)  # a year of lags: 24 origins, windows 821 .. 844
    assert len(year) == 8 and year[0] == 821 and year[-1] == 844
    assert len(_past_origins(1400 - 366 - 90 + 1, 366, 90)) == 0  # ten spans of the horizon: none
    y = 200 + np.cumsum(np.random.default_rng(5).standard_normal(1300))
    model = fit_direct_ar(y, 366, 90)
    raw = _in_sample_errors(model, y)
    # the refits' errors, not the degrees of freedom alone (sqrt(845 / 479) = 1.33), set the last step's spread:
    # 3.45 times the in-sample one (measured)
    assert np.std(model.residuals[:, -1]) > 1.5 * np.sqrt(len(raw) / (len(raw) - 366)) * np.std(raw[:, -1])


def test_a_history_of_many_spans_of_the_horizon_keeps_its_in_sample_errors():
    y = 200 + np.cumsum(np.random.default_rng(3).standard_normal(600))  # 580 windows: over 10 spans of 13 steps
    model = fit_direct_ar(y, 8, 13)
    raw = _in_sample_errors(model, y)
    np.testing.assert_allclose(model.residuals, raw * np.sqrt(len(raw) / (len(raw) - 8)))


def _season(n: int, rng, counts: bool = False) -> np.ndarray:
    """+-25% over the year (peak on day 100) with a weekend lift, as the interval bench's ``yearly`` kinds."""
    t = np.arange(n)
    shape = (1 + 0.25 * np.sin(2 * np.pi * (t - 10) / 365.25)) * np.where(t % 7 >= 5, 1.2, 1.0)
    return rng.poisson(5 * shape).astype(float) if counts else 100 * shape * np.exp(rng.normal(0, 0.1, n))


@pytest.mark.parametrize("history", [420, 730])
def test_a_yearly_season_seen_in_one_or_two_years_is_carried_into_the_forecast(history):
    y = _season(history + 90, np.random.default_rng(history))
    past, future = y[:history], y[history:]
    seasonal = forecast(past, 90, (7, 365), paths=500, seed=1)
    blind = forecast(past, 90, (7,), paths=500, seed=1)
    assert seasonal.method == f"{blind.method} + yearly cycle"
    assert mase(past, future, seasonal.mean, 7) < 0.75 * mase(past, future, blind.mean, 7)
    inside = (future >= seasonal.lo95) & (future <= seasonal.hi95)
    assert inside.mean() > 0.85 and seasonal.paths.shape == (500, 90)
    # the paths carry the cycle too: their mean follows the point forecast
    assert np.allclose(seasonal.paths.mean(axis=0), seasonal.mean, rtol=0.1)


def test_a_yearly_season_of_counts_with_zeros_is_added_not_multiplied_and_stays_non_negative():
    y = _season(500, np.random.default_rng(3), counts=True)  # some days at zero: a season by difference
    assert 0.01 < (y == 0).mean() < 0.3
    f = forecast(y, 90, (7, 365), paths=200, seed=0)
    assert f.method.endswith("+ yearly cycle")
    assert (f.mean >= 0).all() and (f.lo95 >= 0).all() and (f.paths >= 0).all()


@pytest.mark.parametrize("kind", ["random_walk", "trend", "noise"])
def test_no_yearly_cycle_is_read_into_a_wander_a_trend_or_noise(kind):
    from orchestration.bench_intervals import simulate

    found = [forecast(simulate(kind, np.random.default_rng(100 + seed), 420), 90, (7, 365)).method
             for seed in range(20)]
    assert sum(m.endswith("+ yearly cycle") for m in found) <= 1, found


def test_a_year_of_history_or_less_gets_no_yearly_cycle():
    y = _season(380, np.random.default_rng(0))  # a year and 15 days: too few days left to check a cycle on
    assert not forecast(y, 60, (7, 365)).method.endswith("+ yearly cycle")
    assert forecast(_season(420, np.random.default_rng(0)), 60, (7, 365)).method.endswith("+ yearly cycle")


def _shop_days(seed: int, n: int) -> tuple[list, np.ndarray]:
    """A shop from 1 September 2024: 24 days of December at +35%, January at -15%, Saturdays +30%, Sundays -20%."""
    days = [dt.date(2024, 9, 1) + dt.timedelta(i) for i in range(n)]
    shape = np.array([(1.35 if d.month == 12 and d.day <= 24 else 0.85 if d.month == 1 else 1.0)
                      * {5: 1.3, 6: 0.8}.get(d.weekday(), 1.0) for d in days])
    return days, 1000 * shape * np.exp(np.random.default_rng(seed).normal(0, 0.05, n))


def test_a_shops_sharp_december_is_forecast_at_its_height():
    """Two harmonics spread a December of three weeks over October to February, and the days from August to
    November, where the season is flat, forecast worse with it than without: the cycle was left out and the 24
    days of December ahead forecast 23-28% short in 8 seeds of 8. Up to ten harmonics, chosen by BIC and
    judged on a year of held-out quarters, find it."""
    for seed in range(4):
        days, y = _shop_days(seed, 866)
        past, future = y[:806], y[806:]   # to 15 November 2026, then 60 days
        f = forecast(past, 60, (7, 365))
        peak = [i for i in range(60) if days[806 + i].month == 12 and days[806 + i].day <= 24]
        assert f.method.endswith("+ yearly cycle"), (seed, f.method)
        assert f.mean[peak].sum() == pytest.approx(future[peak].sum(), rel=0.06), seed


def test_a_step_in_one_year_is_no_season():
    """Tickets doubled over two months of the second year: harmonics fitted to the step lose the last 90 days
    by half their errors, though they win the 90 before (both forecasts carry the step's trend on there)."""
    found = []
    for seed in range(8):
        t = np.arange(729)
        lam = 170 * (1 + np.clip((t - 420) / 60, 0, 1)) * np.where(t % 7 >= 5, 0.5, 1.0)
        y = np.random.default_rng(seed).poisson(lam).astype(float)
        f = forecast(y[:669], 60, (7, 365))
        found.append(f.method.endswith("+ yearly cycle"))
        assert f.mean.sum() == pytest.approx(y[669:].sum(), rel=0.08), seed
    assert not any(found)


def test_seventy_more_days_do_not_make_a_daily_forecast_worse():
    """1,250 days are enough for the direct AR on a year of lags (1,180 are not): alone, its 366 coefficients
    a step overfit, and the same 90 days forecast from the same day, with 70 more days of history behind it,
    came out worse in MASE (1.25, 1.21 and 1.41 times the shorter history's, for noise, a weekly season and a
    random walk). Pooled with the forecast made without them, 1.05, 1.00 and 1.18."""
    ratios = []
    for kind in ("noise", "weekly", "random_walk"):
        scores = {1180: [], 1250: []}
        for seed in range(6):
            rng = np.random.default_rng(seed)
            t = np.arange(1250 + 90)
            y = {"noise": 10 + rng.normal(0, 2, len(t)),
                 "weekly": 10 + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, len(t)),
                 "random_walk": 50 + np.cumsum(rng.normal(0, 1, len(t)))}[kind]
            for n in scores:
                f = forecast(y[1250 - n:1250], 90, (7, 365))
                assert f.method.startswith("pool(direct_ar on a year of lags") == (n == 1250)
                scores[n].append(mase(y[1250 - n:1250], y[1250:], f.mean, 7))
        ratios.append(np.mean(scores[1250]) / np.mean(scores[1180]))
    assert np.mean(ratios) < 1.1, ratios


def test_a_pooled_forecasts_paths_total_as_its_bands_say():
    """The pool's paths are its two forecasts' paths averaged in pairs of the same rank of total: their
    totals centre on the sum of the pooled point forecast, and each step's spread lies within its bands."""
    rng = np.random.default_rng(3)
    t = np.arange(1300)
    y = 100 * (1 + 0.25 * np.sin(2 * np.pi * t / 365.25)) * np.where(t % 7 >= 5, 1.2, 1.0) * np.exp(
        rng.normal(0, 0.1, len(t)))
    f = forecast(y, 60, (7, 365), paths=2000, seed=4)
    assert f.method.startswith("pool(direct_ar on a year of lags")
    assert f.paths.shape == (2000, 60)
    assert f.paths.sum(axis=1).mean() == pytest.approx(f.mean.sum(), rel=0.02)
    low, high = np.quantile(f.paths, [0.025, 0.975], axis=0)
    assert np.all(low >= f.lo95 * 0.9) and np.all(high <= f.hi95 * 1.1)
    assert np.all((f.lo95 <= f.lo80) & (f.lo80 <= f.mean) & (f.mean <= f.hi80) & (f.hi80 <= f.hi95))


def test_an_intermittent_series_paths_average_what_it_forecasts():
    """Month-end postings (a ledger): Croston's paths are demands and zeros averaging its forecast, not a split
    normal through 0 and a posting's size, whose 61-day totals averaged 3 times the forecast's."""
    rng = np.random.default_rng(8)
    y = np.zeros(700)
    for start in range(0, 700, 30):
        y[start + 29 if start + 29 < 700 else 699] += rng.normal(200_000, 20_000)
        if rng.random() < 0.3 and start + 32 < 700:
            y[start + 32] += rng.normal(60_000, 5_000)  # a late posting
    f = forecast(y, 61, (7, 365), paths=2000, seed=1)
    assert f.method == "croston_sba"
    totals = f.paths.sum(axis=1)
    assert totals.mean() == pytest.approx(f.mean.sum(), rel=0.05)
    low, high = np.quantile(totals, [0.025, 0.975])
    assert low < f.mean.sum() < high
    assert np.mean(f.paths == 0) > 0.8  # most days nothing is posted


def test_a_temperatures_yearly_wave_is_seen_through_weather_that_lasts():
    """Anomalies that run at 0.85 a day (spells of weather) around a temperature's yearly wave: bounding the
    errors' persistence at 0.8, to keep a random walk's wander from being read as a season, left the wave out of
    184 forecasts in 200; the wave is plain, and missing it forecast 90 days of autumn at summer's level."""
    from orchestration.bench_intervals import simulate

    found, scores = 0, []
    for seed in range(20):
        y = simulate("yearly_weather", np.random.default_rng(200 + seed), 820)
        past, future = y[:730], y[730:]
        f = forecast(past, 90, (7, 365))
        found += f.method.endswith("+ yearly cycle")
        scores.append((mase(past, future, f.mean, 7), mase(past, future, forecast(past, 90, (7,)).mean, 7)))
    assert found >= 10
    seasonal, blind = np.mean(scores, axis=0)
    assert seasonal < 0.85 * blind


def test_a_signed_series_is_not_held_at_zero():
    """Monthly mean temperatures of a mild place, all above 0 so far: a measure that may go below zero (the
    spec's minimum) is forecast with bands below it where they reach, not clipped at 0."""
    rng = np.random.default_rng(4)
    y = 4 + rng.normal(0, 2, 40).clip(-3.9, None)
    clipped, signed = forecast(y, 6, (12,)), forecast(y, 6, (12,), signed=True)
    assert (y > 0).all() and clipped.lo95.min() == 0 and signed.lo95.min() < 0
    assert np.allclose(clipped.mean, signed.mean)


def test_a_season_under_a_strong_weekday_pattern_is_kept():
    """A shop peaking in July (±20% over the year), weekends at 70%, two years of ~400 orders a day: the cycle
    is plain (Wald p ~1e-45), yet the check out of sample left it out in 4 seeds of 12. It compared daily
    absolute errors, most of them the weekday's: a level between weekdays and weekends erred more as it fell
    with the season towards the truth. The weekday effect is now taken out of the days judged first."""
    days = np.arange(730)
    season = 1 + 0.2 * np.cos(2 * np.pi * (days + 305 - 200) / 365.25)  # day 0 is 1 November
    weekend = np.where(days % 7 >= 5, 0.7, 1.0)
    for seed in range(12):
        y = np.random.default_rng(seed).poisson(400 * season * weekend).astype(float)
        f = forecast(y, 30, (7, 365))
        assert "yearly cycle" in f.method, (seed, f.method)
