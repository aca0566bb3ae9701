"""`budgetlens bench intervals` end to end on a few simulated series."""

import numpy as np
import pytest

from orchestration import bench_intervals
from orchestration.cli import main


def test_bench_prints_every_kind_with_its_scores(capsys):
    assert main(["bench", "intervals", "--history", "40", "--series", "2", "--workers", "1"]) == 0
    assert main(["bench", "intervals", "--history", "60", "--horizon", "7", "--series", "2", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "40 days of history, 20 ahead" in printed and "60 days of history, 7 ahead" in printed
    for kind in bench_intervals.KINDS:
        assert kind in printed


def test_scores_are_means_over_the_seeded_series():
    first = bench_intervals.run(40, series=3, workers=1)
    again = bench_intervals.run(40, series=3, workers=1)
    for kind in bench_intervals.KINDS:
        assert first[kind] == again[kind]  # seeded: the same series, the same forecasts
        assert sum(first[kind]["methods"].values()) == 3 and 0 <= first[kind]["total_coverage95"] <= 1
    # a random walk forecast from 40 days wanders further than noise around a level
    assert first["random_walk"]["total_score"] > first["noise"]["total_score"]


def test_simulated_kinds_have_their_shape():
    rng = np.random.default_rng(0)
    walk = bench_intervals.simulate("random_walk", rng, 2000)
    noise = bench_intervals.simulate("noise", rng, 2000)
    assert np.std(np.diff(walk)) == pytest.approx(1.0, rel=0.1) and np.std(noise) == pytest.approx(2.0, rel=0.1)
    assert bench_intervals.simulate("counts", rng, 50).min() >= 0
    with pytest.raises(ValueError, match="unknown kind 'sales'"):
        bench_intervals.simulate("sales", rng, 10)
    with pytest.raises(ValueError, match="history must be at least 8 days and horizon at least 1, got 5 and 2"):
        bench_intervals.run(5, series=1, workers=1)
