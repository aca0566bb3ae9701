"""A known pattern of a series (its yearly cycle, its holidays): taken out of the history before forecasting,
put back on every figure of the forecast after."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Adjustment:
    """The pattern over a history and the horizon after it (logs when ``multiplicative``)."""

    past: np.ndarray
    future: np.ndarray
    multiplicative: bool

    def remove(self, y: np.ndarray) -> np.ndarray:
        return y / np.exp(self.past) if self.multiplicative else y - self.past

    def restore(self, values: np.ndarray) -> np.ndarray:
        """The pattern put back on forecasts of the adjusted series (the last axis is the horizon)."""
        return values * np.exp(self.future) if self.multiplicative else values + self.future

    def restored(self, inner, floor: float, label: str):
        """``inner``, a forecast of the adjusted series, with the pattern put back on its point forecast,
        intervals and paths, none below ``floor`` (the adjusted series may dip below zero where the original
        never did), its method ``+ label``."""

        def back(values):
            return None if values is None else np.maximum(self.restore(values), floor)

        return dataclasses.replace(inner, mean=back(inner.mean), lo80=back(inner.lo80), hi80=back(inner.hi80),
                                   lo95=back(inner.lo95), hi95=back(inner.hi95), paths=back(inner.paths),
                                   method=f"{inner.method} + {label}")
