"""Episodes found in a forecast's daily history (models/forecasting/episodes.py)."""

import datetime as dt

import numpy as np
import pytest

from models.forecasting.episodes import THRESHOLD, past_episodes
from tests.models.daily_histories import DAYS, expected_daily, ordinary_means


def _during(first: dt.date, last: dt.date) -> np.ndarray:
    return np.array([first <= d <= last for d in DAYS])


def test_a_three_week_outage_in_a_seasonal_history_is_found_to_the_day():
    """Orders halved (or down a fifth) for three weeks of November, on the way down from a summer peak: the
    drift stage's window test read the season's slope as noise that follows itself and missed it (z 3.9)."""
    first, last = dt.date(2025, 11, 3), dt.date(2025, 11, 23)
    for factor in (0.5, 0.8):
        for seed in range(5):
            y = np.random.default_rng(seed).poisson(expected_daily(400)
                                                    * np.where(_during(first, last), factor, 1.0))
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
    for k, level, phi, mean in ordinary_means(rng, 120):
        assert past_episodes(rng.poisson(mean).astype(float), DAYS) == [], (k, level, phi)


def test_a_campaign_in_the_same_weeks_every_year_is_the_season_not_an_episode():
    """Three weeks at +40% each March: the yearly cycle's, which forecasts must keep. In one year only, it is an
    episode."""
    march = _during(dt.date(2025, 3, 3), dt.date(2025, 3, 23)) | _during(dt.date(2026, 3, 2), dt.date(2026, 3, 22))
    rng = np.random.default_rng(5)
    assert past_episodes(rng.poisson(expected_daily(400) * np.where(march, 1.4, 1.0)).astype(float), DAYS) == []
    once = _during(dt.date(2026, 3, 2), dt.date(2026, 3, 22))
    found = past_episodes(rng.poisson(expected_daily(400) * np.where(once, 1.4, 1.0)).astype(float), DAYS)
    assert [(e.first, e.last) for e in found] == [(dt.date(2026, 3, 2), dt.date(2026, 3, 22))]


def test_a_level_that_holds_or_has_not_gone_back_yet_is_no_episode():
    """A new price from 1 June that holds is a level shift; a dip in the history's last ten days may be one too:
    neither is taken out of the history."""
    rng = np.random.default_rng(11)
    shifted = expected_daily(400) * np.where(np.array(DAYS) >= dt.date(2025, 6, 1), 1.3, 1.0)
    assert past_episodes(rng.poisson(shifted).astype(float), DAYS) == []
    dipping = expected_daily(400) * np.where(np.array(DAYS) >= dt.date(2026, 10, 22), 0.5, 1.0)
    assert past_episodes(rng.poisson(dipping).astype(float), DAYS) == []


def test_a_shop_shut_for_three_weeks_is_found_on_its_counts():
    """Closed on Sundays (0 every week: left out) and shut for three weeks of January (0 on open days too): the
    counts are read as they are, not on a logarithm, and the shut weeks are the episode."""
    shut = _during(dt.date(2026, 1, 5), dt.date(2026, 1, 25))
    sunday = np.array([d.weekday() == 6 for d in DAYS])
    y = np.random.default_rng(3).poisson(expected_daily(50) * np.where(shut | sunday, 0.0, 1.0)).astype(float)
    found = past_episodes(y, DAYS)
    assert [(e.first, e.last) for e in found] == [(dt.date(2026, 1, 5), dt.date(2026, 1, 24))]  # Sunday 25th left out
    before = _during(dt.date(2025, 12, 8), dt.date(2026, 1, 4)) & ~sunday
    assert found[0].step == pytest.approx(-y[before].mean(), rel=0.15)  # all of January's level (40, not 50)


def test_a_short_or_mismatched_history():
    assert past_episodes(np.ones(60), DAYS[:60]) == []
    with pytest.raises(ValueError, match="3 values for 2 days"):
        past_episodes([1.0, 2.0, 3.0], DAYS[:2])
