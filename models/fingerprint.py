"""Whether two readings of data frames hold the same data, up to the rounding of sums.

A re-run sums the same figures in another order, which moves the last bits of a total (a few 1e-16 relative,
measured), so floats cannot be hashed: rounded to any number of digits, some of a million values lie on a
rounding boundary and round apart (measured: 1-2 per budget at 12 digits). A reading therefore hashes
everything but the floats, and keeps the floats to be compared with a tolerance.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

# A float moving by less than this share of its column's largest |value| is rounding of a sum, no change:
# a sum of n terms is off by at most ~n * 1.1e-16 of the terms' total.
ROUNDING = 1e-12


@dataclass(frozen=True)
class Reading:
    """``digest``: the frames' columns, rows (in a canonical order), every value that is not a float, and which
    floats are missing. ``values``: the floats in that order (missing ones 0). ``scales``: each float's column's
    largest |value| in its frame."""

    digest: str
    values: np.ndarray
    scales: np.ndarray


def read_frames(frames: list[pd.DataFrame], salt: str = "") -> Reading:
    """A reading of ``frames``, independent of their row and column order; ``salt`` enters the digest."""
    digest = hashlib.sha256(salt.encode())
    values, scales = [], []
    for frame in frames:
        columns = sorted(frame.columns)
        floats = [c for c in columns if pd.api.types.is_float_dtype(frame[c])]
        keys = [c for c in columns if c not in floats]
        ordered = frame.sort_values(keys + floats, kind="stable").reset_index(drop=True)
        shape = ordered[keys].assign(**{f"{c}\0missing": ordered[c].isna() for c in floats})
        digest.update(("|".join(columns) + f"\n{len(ordered)}\n").encode())
        digest.update(pd.util.hash_pandas_object(shape, index=False).to_numpy().tobytes())
        for column in floats:
            v = np.nan_to_num(ordered[column].to_numpy(float), nan=0.0, posinf=np.inf, neginf=-np.inf)
            finite = np.abs(v[np.isfinite(v)])
            values.append(v)
            scales.append(np.full(len(v), finite.max() if len(finite) else 0.0))
    join = (lambda parts: np.concatenate(parts) if parts else np.empty(0))
    return Reading(digest.hexdigest(), join(values), join(scales))


def same_reading(digest: str, values: np.ndarray, current: Reading) -> bool:
    """Whether a stored reading (its ``digest`` and ``values``) holds the same data as ``current``."""
    values = np.asarray(values, dtype=float)
    if digest != current.digest or values.shape != current.values.shape:
        return False
    with np.errstate(invalid="ignore"):  # inf - inf: equal infinities are caught by ==
        close = np.abs(current.values - values) <= ROUNDING * current.scales
    return bool(np.all((current.values == values) | close))
