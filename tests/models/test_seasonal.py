"""Weekday profile of a shop closed on Sundays. Yearly cycle: known numbers, the test's size on noise with and
without autocorrelation, shocks, edges."""

import numpy as np
import pandas as pd
import pytest

from statsmodels.regression.linear_model import GLSAR

from models.drift.seasonal import weekday_profile, yearly_change
from models.yearly_cycle import GLS_ITERATIONS, YEARLY_ALPHA, ar1_gls_wald, fit_yearly_cycle, yearly_design

HISTORY = pd.date_range("2024-09-01", "2026-08-31")
AUGUST = pd.date_range("2026-08-01", "2026-08-31")
SEPTEMBER = pd.date_range("2026-09-01", "2026-09-30")


def cosine(days, amplitude, peak_doy=200):
    return amplitude * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - peak_doy) / 365.25)


def ar1(rng, phi, n):
    noise = rng.normal(0, 1, n)
    out = np.empty(n)
    out[0] = noise[0] / np.sqrt(1 - phi ** 2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out * np.sqrt(1 - phi ** 2)  # unit variance whatever phi


def test_an_additive_season_predicts_the_cycle_s_change_between_the_periods():
    rng = np.random.default_rng(3)
    y = pd.Series(50 + cosine(HISTORY, 10) + rng.normal(0, 1, len(HISTORY)), index=HISTORY)
    found = yearly_change(y, AUGUST, SEPTEMBER, multiplicative=False)
    truth = cosine(SEPTEMBER, 10).mean() - cosine(AUGUST, 10).mean()   # -3.4
    assert found.kind == "difference" and found.significant
    assert found.value == pytest.approx(truth, abs=0.3)
    assert found.days == len(HISTORY)


def test_a_multiplicative_season_predicts_the_ratio_of_the_periods_despite_growth():
    rng = np.random.default_rng(4)
    years = np.arange(len(HISTORY)) / 365.25
    y = pd.Series(100 * 1.2 ** years * (1 + cosine(HISTORY, 0.3)) * rng.lognormal(0, 0.1, len(HISTORY)),
                  index=HISTORY)
    found = yearly_change(y, AUGUST, SEPTEMBER, multiplicative=True)
    truth = (1 + cosine(SEPTEMBER, 0.3)).mean() / (1 + cosine(AUGUST, 0.3)).mean()   # growth is no season
    assert found.kind == "ratio" and found.p_value < 1e-10
    assert found.value == pytest.approx(truth, abs=0.01)


@pytest.mark.parametrize("phi", [0.0, 0.5])
def test_noise_is_taken_for_a_season_no_more_often_than_the_test_s_level(phi):
    """Plain and autocorrelated noise: a regression with HAC errors called 11-13% and 16% of such series
    seasonal at a 5% level (smooth harmonics are its weak spot); the AR(1) fit keeps close to the level."""
    rng = np.random.default_rng(5)
    found = [yearly_change(pd.Series(100 + 10 * ar1(rng, phi, len(HISTORY)), index=HISTORY), AUGUST, SEPTEMBER,
                           multiplicative=False) for _ in range(200)]
    assert np.mean([f.significant for f in found]) <= 2.5 * YEARLY_ALPHA
    assert np.mean([abs(f.value) for f in found if not f.significant]) < 1.0   # and what it fits is small


def test_a_season_of_a_tenth_of_the_noise_is_still_found():
    rng = np.random.default_rng(6)
    found = [yearly_change(pd.Series(100 * (1 + cosine(HISTORY, 0.03)) * (1 + 0.1 * rng.normal(0, 1, len(HISTORY))),
                                     index=HISTORY), AUGUST, SEPTEMBER, multiplicative=True) for _ in range(50)]
    assert np.mean([f.significant for f in found]) >= 0.9


def test_last_year_s_shock_is_no_season():
    rng = np.random.default_rng(7)
    y = pd.Series(100 + 5 * rng.normal(0, 1, len(HISTORY)), index=HISTORY)
    y[(y.index >= "2025-09-05") & (y.index <= "2025-09-20")] *= 3   # a fortnight tripled last September
    found = yearly_change(y, AUGUST, SEPTEMBER, multiplicative=True)
    assert not found.significant
    assert found.value == pytest.approx(1.0, abs=0.01)


def test_without_a_year_of_history_before_the_current_period_there_is_no_cycle():
    short = HISTORY[HISTORY >= "2025-09-15"]
    y = pd.Series(100 + cosine(short, 20), index=short)
    assert yearly_change(y, AUGUST, SEPTEMBER, multiplicative=True) is None
    sparse = pd.Series(np.where(np.arange(len(HISTORY)) % 3 == 0, 100.0, np.nan), index=HISTORY)
    assert yearly_change(sparse, AUGUST, SEPTEMBER, multiplicative=False) is None   # 244 days with a value


@pytest.mark.parametrize("phi", [0.0, 0.6, 0.95])
@pytest.mark.parametrize("season", [0.0, 0.2])
def test_the_ar1_fit_gives_statsmodels_glsar_numbers(phi, season):
    rng = np.random.default_rng(8)
    t = np.arange(500.0)
    X = yearly_design(t)
    y = X @ np.array([3.0, 0.5, season, 0.0, -season / 2, season / 4]) + ar1(rng, phi, len(t))
    params, p_value, rho = ar1_gls_wald(y, X, np.arange(2, 6))
    reference = GLSAR(y, X, rho=1).iterative_fit(maxiter=GLS_ITERATIONS)
    assert params == pytest.approx(np.asarray(reference.params), rel=1e-8)
    assert rho == pytest.approx(float(np.squeeze(reference.model.rho)), rel=1e-6, abs=1e-9)
    assert p_value == pytest.approx(float(reference.wald_test(np.eye(6)[2:], scalar=True, use_f=True).pvalue),
                                    rel=1e-8, abs=1e-300)


def test_a_series_without_noise_has_its_cycle_or_none_for_certain():
    seasonal = pd.Series(100 * (1 + cosine(HISTORY, 0.2)), index=HISTORY)
    found = yearly_change(seasonal, AUGUST, SEPTEMBER, multiplicative=True)
    assert found.p_value == 0.0 and found.value < 1
    constant = yearly_change(pd.Series(100.0, index=HISTORY), AUGUST, SEPTEMBER, multiplicative=True)
    assert constant.p_value == 1.0 and constant.value == pytest.approx(1.0)


def test_a_shop_closed_on_sundays_has_a_multiplicative_week_whose_sunday_is_zero():
    """Weekdays 1.1, Saturday 0.6, Sunday closed (0): the open days' factors are ratios, so three weeks at 60%
    read 60% on every open day (an additive profile took the weekdays' usual +18 off and added the Saturday's
    -21: -57% on the adjusted days, for a drop of 40%)."""
    rng = np.random.default_rng(1)
    days = pd.date_range("2025-09-01", "2026-10-31")
    week = np.array([1.1, 1.1, 1.1, 1.1, 1.1, 0.6, 0.0])[days.day_of_week]
    level = np.where(days >= "2026-10-01", 0.6, 1.0) * 80
    counts = pd.Series(rng.poisson(level * week).astype(float), index=days)
    profile = weekday_profile(counts, pd.Timestamp("2026-09-01"))
    assert profile.mode == "multiplicative"
    assert profile.factors[6] == 0
    assert profile.factors[5] / profile.factors[0] == pytest.approx(0.6 / 1.1, rel=0.1)
    adjusted = profile.deseasonalise(counts)
    open_days = days.day_of_week != 6
    ratio = adjusted[open_days & (days >= "2026-10-01")].median() / adjusted[open_days & (days < "2026-10-01")].median()
    assert ratio == pytest.approx(0.6, abs=0.05)
    # a series at 0 every day is no closed week: it has no pattern
    assert weekday_profile(counts * 0, pd.Timestamp("2026-09-01")).mode == "none"


def test_a_sharp_season_is_given_the_harmonics_bic_asks_for():
    """A December of 24 days at +30% (logs) needs more than a wave and its overtone; a smooth wave does not, and
    without ``max_harmonics`` the cycle keeps its two."""
    rng = np.random.default_rng(3)
    t = np.arange(800.0)
    sharp = np.where((t % 365) < 24, 0.3, 0.0) + rng.normal(0, 0.05, len(t))
    smooth = 0.2 * np.sin(2 * np.pi * t / 365.25) + rng.normal(0, 0.05, len(t))
    cycle = fit_yearly_cycle(t, sharp, max_harmonics=10)
    assert cycle.harmonics >= 6
    assert fit_yearly_cycle(t, sharp).harmonics == 2
    assert fit_yearly_cycle(t, smooth, max_harmonics=10).harmonics == 2
    within = cycle.at(t[(t % 365) < 24]).mean()
    outside = cycle.at(t[(t % 365) >= 60]).mean()
    assert within - outside == pytest.approx(0.3, abs=0.05)
