"""`budgetlens bench m4` end to end on a small folder in the M4 file format."""

import csv

import numpy as np
import pytest

from orchestration import bench_m4
from orchestration.cli import main


def write_m4(folder, prefix, series, horizon):
    width = max(len(s) for s in series.values()) - horizon
    with (folder / f"{prefix}-train.csv").open("w", newline="") as train, \
            (folder / f"{prefix}-test.csv").open("w", newline="") as test:
        tw, sw = csv.writer(train, quoting=csv.QUOTE_ALL), csv.writer(test, quoting=csv.QUOTE_ALL)
        tw.writerow(["V1", *[f"V{i + 2}" for i in range(width)]])
        sw.writerow(["V1", *[f"V{i + 2}" for i in range(horizon)]])
        for sid, values in series.items():
            history = [f"{v:.3f}" for v in values[:-horizon]]
            tw.writerow([sid, *history, *[""] * (width - len(history))])  # M4 pads short series
            sw.writerow([sid, *[f"{v:.3f}" for v in values[-horizon:]]])


def test_bench_writes_every_step_and_prints_the_scores(tmp_path, capsys):
    rng = np.random.default_rng(0)
    series = {f"W{i}": 1000 + np.cumsum(rng.normal(2, 10, n)) for i, n in enumerate([300, 120, 80, 500], start=1)}
    write_m4(tmp_path, "Weekly", series, 13)
    out = tmp_path / "forecasts.csv"
    assert main(["bench", "m4", "--frequency", "weekly", "--data", str(tmp_path), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    for label in ("sMAPE", "MASE", "OWA", "MSIS", "95% coverage", "seconds", "horizon total: MSIS"):
        assert label in printed
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "step", "yhat", "lo95", "hi95"]
    assert len(rows) == 4 * 13 and {r["step"] for r in rows} == {str(s) for s in range(1, 14)}
    assert all(float(r["lo95"]) <= float(r["yhat"]) <= float(r["hi95"]) for r in rows)


def test_bench_names_a_missing_data_folder(tmp_path, capsys):
    assert main(["bench", "m4", "--frequency", "hourly", "--data", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "Hourly-train.csv: M4 file not found" in capsys.readouterr().err


def test_history_keeps_each_series_last_points_only(tmp_path):
    rng = np.random.default_rng(1)
    series = {f"W{i}": 1000 + np.cumsum(rng.normal(2, 10, 400)) for i in range(1, 4)}
    write_m4(tmp_path, "Weekly", series, 13)
    whole = bench_m4.run("weekly", tmp_path, tmp_path / "whole.csv", workers=1)
    short = bench_m4.run("weekly", tmp_path, tmp_path / "short.csv", workers=1, history=30)
    assert set(whole["methods"]) == {"direct_ar"}  # a full seasonal cycle of lags fits in 387 points
    # 30 points: too few for the direct AR, the median of the classical models
    assert set(short["methods"]) == {"median(damped_ets, seasonal_naive, theta)"}
    assert short["mase_naive2"] != whole["mase_naive2"]  # Naive2 is scored on the same 30 points
    with pytest.raises(ValueError, match="history must be a positive number of points, got 0"):
        bench_m4.run("weekly", tmp_path, tmp_path / "none.csv", workers=1, history=0)
