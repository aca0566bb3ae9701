"""Episodes found in a forecast's daily history (models/forecasting/episodes.py)."""

import datetime as dt

import numpy as np
import pytest

from models.forecasting.episodes import THRESHOLD, past_episodes

DAYS = [dt.date(2024, 11, 1) + dt.timedelta(d) for d in range(730)]  # two years, to Saturday 2026-10-31


def _expected(level: float, amplitude: float = 0.2, trend: float = 0.0, phase: float = 200.0) -> np.ndarray:
    """A business's expected daily count: a yearly cycle peaking on day ``phase`` of the year, weekends at 70%."""
    return np.array([level * (1 + amplitude * np.cos(2 * np.pi * (d.timetuple().tm_yday - phase) / 365.25))
                     * (1 + trend * k / 365) * (0.7 if d.weekday() >= 5 else 1.0) for k, d in enumerate(DAYS)])


def _during(first: dt.date, last: dt.date) -> np.ndarray:
    return np.array([first <= d <= last for d in DAYS])


def test_a_three_week_outage_in_a_seasonal_history_is_found_to_the_day():
    """Orders halved (or down a fifth) for three weeks of November, on the way down from a summer peak: the
    drift stage's window test read the season's slope as noise that follows itself and missed it (z 3.9)."""
    first, last = dt.date(2025, 11, 3), dt.date(2025, 11, 23)
    for factor in (0.5, 0.8):
        for seed in range(5):
            y = np.random.default_rng(seed).poisson(_expected(400) * np.where(_during(first, last), factor, 1.0))
            found = past_episodes(y.astype(float), DAYS)
            assert len(found) == 1, (factor, seed, found)
            assert abs((found[0].first - first).days) <= 1 and abs((found[0].last - last).days) <= 1, found
            assert found[0].step == pytest.approx(np.log(factor), abs=0.06)
            assert found[0].z <= -THRESHOLD


def test_histories_without_an_episode_have_none():
    """Two years of counts from 5 to 20,000 a day, with or without a yearly cycle, a trend, and a level that
    wanders (an AR(1) of the logarithm): none is given an episode (of 1,500 such series none reached a z of 7,
    the largest 6.7; 1 in 1,500 reached 6)."""
    rng = np.random.default_rng(2026)
    for k in range(120):
        level = float(rng.choice([5, 30, 200, 2000, 20000]))
        phi, sigma = [(0.0, 0.0), (0.5, 0.05), (0.9, 0.03)][k % 3]
        wander = np.zeros(len(DAYS))
        for t, shock in enumerate(rng.normal(0, sigma, len(DAYS))[1:], start=1):
            wander[t] = phi * wander[t - 1] + shock
        mean = _expected(level, float(rng.choice([0, 0.2, 0.4])), float(rng.uniform(-0.3, 0.5)),
                         float(rng.uniform(0, 365))) * np.exp(wander)
        assert past_episodes(rng.poisson(mean).astype(float), DAYS) == [], (k, level, phi)


def test_a_campaign_in_the_same_weeks_every_year_is_the_season_not_an_episode():
    """Three weeks at +40% each March: the yearly cycle's, which forecasts must keep. In one year only, it is an
    episode."""
    march = _during(dt.date(2025, 3, 3), dt.date(2025, 3, 23)) | _during(dt.date(2026, 3, 2), dt.date(2026, 3, 22))
    rng = np.random.default_rng(5)
    assert past_episodes(rng.poisson(_expected(400) * np.where(march, 1.4, 1.0)).astype(float), DAYS) == []
    once = _during(dt.date(2026, 3, 2), dt.date(2026, 3, 22))
    found = past_episodes(rng.poisson(_expected(400) * np.where(once, 1.4, 1.0)).astype(float), DAYS)
    assert [(e.first, e.last) for e in found] == [(dt.date(2026, 3, 2), dt.date(2026, 3, 22))]


def test_a_level_that_holds_or_has_not_gone_back_yet_is_no_episode():
    """A new price from 1 June that holds is a level shift; a dip in the history's last ten days may be one too:
    neither is taken out of the history."""
    rng = np.random.default_rng(11)
    shifted = _expected(400) * np.where(np.array(DAYS) >= dt.date(2025, 6, 1), 1.3, 1.0)
    assert past_episodes(rng.poisson(shifted).astype(float), DAYS) == []
    dipping = _expected(400) * np.where(np.array(DAYS) >= dt.date(2026, 10, 22), 0.5, 1.0)
    assert past_episodes(rng.poisson(dipping).astype(float), DAYS) == []


def test_a_shop_shut_for_three_weeks_is_found_on_its_counts():
    """Closed on Sundays (0 every week: left out) and shut for three weeks of January (0 on open days too): the
    counts are read as they are, not on a logarithm, and the shut weeks are the episode."""
    shut = _during(dt.date(2026, 1, 5), dt.date(2026, 1, 25))
    sunday = np.array([d.weekday() == 6 for d in DAYS])
    y = np.random.default_rng(3).poisson(_expected(50) * np.where(shut | sunday, 0.0, 1.0)).astype(float)
    found = past_episodes(y, DAYS)
    assert [(e.first, e.last) for e in found] == [(dt.date(2026, 1, 5), dt.date(2026, 1, 24))]  # Sunday 25th left out
    before = _during(dt.date(2025, 12, 8), dt.date(2026, 1, 4)) & ~sunday
    assert found[0].step == pytest.approx(-y[before].mean(), rel=0.15)  # all of January's level (40, not 50)


def test_a_short_or_mismatched_history():
    assert past_episodes(np.ones(60), DAYS[:60]) == []
    with pytest.raises(ValueError, match="3 values for 2 days"):
        past_episodes([1.0, 2.0, 3.0], DAYS[:2])
