import numpy as np
import pandas as pd

from models.fingerprint import read_frames, same_reading

FRAME = pd.DataFrame({"segment_id": ["a", "b", None], "period_start": pd.to_datetime(["2026-01-01"] * 3),
                      "value": [0.1 + 0.2, 1e6 / 3, np.nan], "is_complete": [True, True, False]})


def _same(frame: pd.DataFrame, other: pd.DataFrame) -> bool:
    stored = read_frames([frame])
    return same_reading(stored.digest, stored.values, read_frames([other]))


def test_same_rows_in_another_order_and_sums_in_another_order_are_the_same_data():
    reordered = FRAME.iloc[[2, 0, 1]][["value", "is_complete", "period_start", "segment_id"]]
    resummed = FRAME.assign(value=[0.3, (1e6 / 3) * (1 + 4e-16), np.nan])  # the last bits of a total moved
    assert _same(FRAME, reordered) and _same(FRAME, resummed)
    # on a rounding boundary: rounded to 12 digits these are 123456789123 and 123456789124; the tolerance
    # keeps them together
    boundary = FRAME.assign(value=[0.3, 1234567.891235, np.nan])
    assert _same(boundary, boundary.assign(value=[0.3, np.nextafter(1234567.891235, np.inf), np.nan]))


def test_a_real_change_an_added_row_a_missing_value_or_a_renamed_column_is_not():
    changed = FRAME.assign(value=[0.3, (1e6 / 3) + 0.01, np.nan])  # a cent on a third of a million
    small = FRAME.assign(value=[0.3 + 1e-6, 1e6 / 3, np.nan])  # a millionth on 0.3 beside a column up to 333,333
    added = pd.concat([FRAME, FRAME.iloc[[0]]], ignore_index=True)
    missing = FRAME.assign(value=[np.nan, 1e6 / 3, np.nan])
    renamed = FRAME.rename(columns={"value": "weight"})
    flipped = FRAME.assign(is_complete=[True, True, True])
    assert not any(_same(FRAME, other) for other in (changed, small, added, missing, renamed, flipped))


def test_the_salt_and_infinities_count():
    stored = read_frames([FRAME], salt="code v1")
    assert not same_reading(stored.digest, stored.values, read_frames([FRAME], salt="code v2"))
    infinite = FRAME.assign(value=[np.inf, 1.0, np.nan])
    kept = read_frames([infinite])
    assert same_reading(kept.digest, kept.values, read_frames([infinite]))
    assert not same_reading(kept.digest, kept.values, read_frames([infinite.assign(value=[-np.inf, 1.0, np.nan])]))
