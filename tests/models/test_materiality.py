import numpy as np
import pytest

from models.drift.materiality import change_materiality
from models.robust import MAD_TO_SD


def test_robust_z_against_known_numbers():
    history = [0.0, 1.0, 3.0, 6.0, 10.0, 15.0]  # changes 1..5: median 3, median absolute deviation 1
    z, verdict = change_materiality(history, 8.0)
    assert z == pytest.approx(5 / MAD_TO_SD) and verdict == "material"
    z, verdict = change_materiality(history, 7.0)
    assert z == pytest.approx(4 / MAD_TO_SD) and verdict == "normal variation"


def test_too_few_changes_are_not_judged():
    assert change_materiality([1.0, 2.0, 4.0], 100.0) == (None, "unknown")
    # a missing period breaks the changes across it: 5 values, 2 known changes
    assert change_materiality([1.0, 2.0, np.nan, 4.0, 5.0], 100.0) == (None, "unknown")


def test_changes_that_never_vary_make_any_other_change_material():
    history = [10.0, 12.0, 14.0, 16.0, 18.0]
    assert change_materiality(history, 2.0) == (None, "normal variation")
    assert change_materiality(history, 2.5) == (None, "material")


def test_a_change_within_the_rounding_of_the_inputs_is_not_material_however_steady_the_history():
    """A price of 0.33 per kWh summed from costs written to four decimals: its months move by ten-millionths,
    and a month's -0.0000002 was "material" (z -5). Within a millionth of the level it is rounding."""
    rng = np.random.default_rng(2)
    history = 0.33 + rng.normal(0, 4e-8, 20)
    z, verdict = change_materiality(history, -2.2e-7)
    assert z < -3 and verdict == "normal variation"
    assert change_materiality(history, -2e-5)[1] == "material"  # 60 parts in a million: a change
    assert change_materiality([0.33] * 6, 2e-7) == (None, "normal variation")


def test_a_year_ago_change_is_judged_against_changes_over_a_year():
    rng = np.random.default_rng(3)
    weeks = np.arange(120)
    history = 100 + 30 * np.sin(2 * np.pi * weeks / 52) + rng.normal(0, 1, len(weeks))
    # over a year the season cancels: a change of 15 is far outside; week to week it is within the swings
    z_year, verdict_year = change_materiality(history, 15.0, lag=52)
    assert verdict_year == "material" and z_year > 5
    assert change_materiality(history, 1.0, lag=1)[1] == "normal variation"


def test_short_history_for_the_lag_falls_back_to_one_period():
    history = np.arange(55.0)  # only 3 changes over 52 periods, 54 over one (all equal to 1)
    assert change_materiality(history, 1.0, lag=52) == (None, "normal variation")
    assert change_materiality(history, 52.0, lag=52) == (None, "material")


def test_bad_lag_is_refused():
    with pytest.raises(ValueError, match="lag must be at least 1"):
        change_materiality([1.0, 2.0], 1.0, lag=0)


def test_changes_mostly_equal_but_not_always_are_judged_against_how_they_vary():
    # a count of live markets: a year-on-year change of 1 in most months (a market opened), 0 in the rest;
    # no change this year is within that, not "beyond normal variation" against a spread of zero
    history = [4.0] * 14 + [5.0] * 5 + [4.0] * 2   # 21 months; over 12 months: 0, 0, 1, 1, 1, 1, 1, 0, 0
    z, verdict = change_materiality(history, 0.0, lag=12)
    # against the 9 changes over a year (spread: their root mean square about 1, since most equal it) and the
    # noise the 20 monthly changes tell, as if those were 4 more: their 19 own changes (four of +-1) over root 3
    assert verdict == "normal variation" and z == pytest.approx(-1 / np.sqrt((9 * 4 / 9 + 4 * (4 / 19) / 3) / 13))


def test_a_few_year_on_year_changes_that_agree_by_chance_do_not_make_a_year_unusual():
    """57 weeks of a growing budget whose weeks swing by thousands: five year-on-year changes that happen to lie
    within a few hundred of each other cannot call a sixth, inside the weekly swings, far beyond normal."""
    rng = np.random.default_rng(5)
    history = 14000 + 150 * np.arange(57) + rng.normal(0, 2000, 57)
    history[52:] = history[:5] + np.array([9600, 9900, 10100, 9800, 10000])  # the five changes over 52 weeks
    z, verdict = change_materiality(history, 8561.0, lag=52)
    assert verdict == "normal variation" and -3 < z < 0
    # the five changes' own spread (median absolute deviation 100) averaged with the noise of the weeks (the
    # spread of the week-to-week changes' own changes, over root 3) as if those were four more
    second = np.diff(history, 2)
    weekly = MAD_TO_SD * np.median(np.abs(second - np.median(second))) / np.sqrt(3)
    assert z == pytest.approx((8561 - 9900) / np.sqrt((5 * (MAD_TO_SD * 100) ** 2 + 4 * weekly ** 2) / 9))


def test_many_changes_over_a_year_keep_their_own_spread():
    """With a year of daily year-on-year changes the short lag's spread barely counts (4 of 369), and for days
    the short lag is a week: the weekday cycle in changes from one day to the next does not widen it."""
    rng = np.random.default_rng(6)
    days = np.arange(730)
    history = 100 + 40 * (days % 7 == 5) + 40 * (days % 7 == 6) + rng.normal(0, 1, len(days))
    z_days, _ = change_materiality(history, 5.0, lag=364, short_lag=7)
    z_one, _ = change_materiality(history, 5.0, lag=364, short_lag=1)
    assert z_days > 3 and z_one < z_days


def test_a_year_on_year_change_is_not_drowned_by_the_seasons_swings_between_months():
    """A campus's monthly energy swings a third with the seasons; a building's fault adds 16% on a year before.
    The few year-on-year changes are steadied by the noise the months tell, not by their seasonal swings: the
    fault is beyond normal variation, and the same month without it is not."""
    months = np.arange(20)
    for seed in range(4, 8):  # z 1.7 to 1.9 when the months' own changes steadied the spread
        noise = np.random.default_rng(seed).lognormal(0, 0.01, 20)
        history = 90000 * (1 + 0.3 * np.cos(2 * np.pi * months / 12)) * noise
        z, verdict = change_materiality(history, 0.16 * history[-12], lag=12)
        assert verdict == "material" and z > 3, seed
        assert change_materiality(history, 0.0, lag=12)[1] == "normal variation"
