"""Briefing charts are drawn again only when what they show changed."""

import os

import pandas as pd

from assets.charts import drawn_from, fan_chart, inputs_digest, waterfall_chart

HISTORY = pd.DataFrame({"period_start": pd.date_range("2026-01-01", periods=6, freq="MS").date,
                        "value": [10.0, 12.0, 11.0, 13.0, 14.0, 15.0]})
FORECAST = [{"period_start": "2026-07-01", "value": 16.0, "low80": 15.0, "high80": 17.0, "low95": 14.0,
             "high95": 18.0}]


def _age(path):
    """Set the file's modification time far back, so a rewrite shows."""
    os.utime(path, ns=(0, 0))
    return path.stat().st_mtime_ns


def test_a_chart_of_the_same_figures_is_kept_and_a_changed_one_drawn_again(tmp_path):
    path = fan_chart(HISTORY, FORECAST, "leads per month", tmp_path / "fan.png")
    first = path.read_bytes()
    assert drawn_from(path) == inputs_digest("fan", {"period_start": [str(d) for d in HISTORY["period_start"]],
                                                     "value": list(HISTORY["value"])}, FORECAST, "leads per month")
    before = _age(path)
    fan_chart(HISTORY, FORECAST, "leads per month", path)
    assert path.stat().st_mtime_ns == before  # kept: not written again

    changed = HISTORY.assign(value=HISTORY["value"].where(HISTORY.index < 5, 15.5))
    fan_chart(changed, FORECAST, "leads per month", path)
    assert path.stat().st_mtime_ns != before
    assert path.read_bytes() != first

    # the same figures drawn afresh elsewhere give the same bytes
    assert fan_chart(HISTORY, FORECAST, "leads per month", tmp_path / "again.png").read_bytes() == first


def test_a_waterfall_follows_its_factors_and_a_damaged_file_is_drawn_again(tmp_path):
    path = waterfall_chart(100.0, {"temporal_variance": 5.0, "residual": -2.0}, "leads", tmp_path / "w.png")
    before = _age(path)
    waterfall_chart(100.0, {"temporal_variance": 5.0, "residual": -2.0}, "leads", path)
    assert path.stat().st_mtime_ns == before
    waterfall_chart(100.0, {"temporal_variance": 5.0, "residual": -3.0}, "leads", path)
    assert path.stat().st_mtime_ns != before

    path.write_bytes(path.read_bytes()[:60])  # cut off inside the image
    assert drawn_from(path) is None
    path.write_bytes(b"not a png")
    assert drawn_from(path) is None
    waterfall_chart(100.0, {"temporal_variance": 5.0, "residual": -3.0}, "leads", path)
    assert path.read_bytes().startswith(b"\x89PNG")
