import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.member_pool import expected_union, fit_pool

LAST = dt.date(2026, 11, 22)


def drawn(pool: int, per_day: float, days: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame([(LAST - dt.timedelta(days=d), f"m{m}") for d in range(days)
                         for m in rng.choice(pool, rng.poisson(per_day), replace=False)],
                        columns=["period_start", "member"])


def test_expected_union_of_known_numbers():
    assert expected_union(np.array([10.0, 10.0]), 100.0) == pytest.approx(100 * (1 - 0.9 ** 2))
    assert expected_union(np.array([10.0, 10.0]), np.inf) == 20.0
    assert expected_union(np.array([150.0]), 100.0) == 100.0  # a day cannot hold more than the pool
    assert list(expected_union(np.array([[1.0, 1.0], [2.0, 2.0]]), np.inf)) == [2.0, 4.0]


def test_the_pool_is_recovered_from_how_the_union_grows():
    assert fit_pool(drawn(3000, 300, 70), LAST) == pytest.approx(3000, rel=0.03)
    assert fit_pool(drawn(500, 20, 70), LAST) == pytest.approx(500, rel=0.1)
    # every member new every day: no pool to exhaust
    fresh = pd.DataFrame([(LAST - dt.timedelta(days=d), f"{d}-{i}") for d in range(30) for i in range(5)],
                         columns=["period_start", "member"])
    assert fit_pool(fresh, LAST) == np.inf
    assert np.isnan(fit_pool(drawn(3000, 300, 5), LAST))  # five days: too few to tell


def test_a_month_of_a_pool_holds_what_its_draws_do():
    """31 days of 320 a day from 3,000 hold 3,000 (1 - (1 - 320/3000)^31) = 2,910; simulated, about the same."""
    pool = fit_pool(drawn(3000, 320, 56), LAST)
    month = drawn(3000, 320, 31, seed=9)
    assert expected_union(np.full(31, 320.0), pool) == pytest.approx(month["member"].nunique(), rel=0.02)
