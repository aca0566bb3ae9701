"""Shared shape of demo activity: trend, yearly and weekly seasonality, hourly profiles."""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(2025, 1, 1)

# Monday..Sunday multipliers.
WEEKDAY_BUSINESS = np.array([1.05, 1.1, 1.1, 1.05, 0.95, 0.25, 0.15])
WEEKDAY_CONSUMER = np.array([1.0, 1.0, 1.0, 1.0, 1.05, 0.9, 0.85])


def business_hours(start: int = 8, end: int = 18, tz_shift: int = 0) -> np.ndarray:
    """24 hourly weights summing to 1: office hours (UTC, shifted by ``tz_shift``)."""
    weights = np.full(24, 0.05)
    hours = (np.arange(start, end) - tz_shift) % 24
    weights[hours] = 1.0
    return weights / weights.sum()


def consumer_hours() -> np.ndarray:
    """24 hourly weights summing to 1: low at night, peak in the evening."""
    hours = np.arange(24)
    weights = 0.35 + 0.65 * np.exp(-0.5 * ((hours - 19) / 4.0) ** 2) + 0.3 * np.exp(-0.5 * ((hours - 11) / 3.0) ** 2)
    return weights / weights.sum()


def daily_factor(day: dt.date, weekday_profile: np.ndarray, yearly_amplitude: float,
                 yearly_peak_doy: int, annual_growth: float) -> float:
    """Trend x yearly season x weekday for one day (mean 1 at the epoch)."""
    years = (day - EPOCH).days / 365.25
    trend = (1.0 + annual_growth) ** years
    doy = day.timetuple().tm_yday
    yearly = 1.0 + yearly_amplitude * np.cos(2 * np.pi * (doy - yearly_peak_doy) / 365.25)
    return float(trend * yearly * weekday_profile[day.weekday()])


def ramp(day: dt.date, start: dt.date, end: dt.date) -> float:
    """0 before ``start``, 1 from ``end`` on, linear in between."""
    if day < start:
        return 0.0
    if day >= end:
        return 1.0
    return (day - start).days / max((end - start).days, 1)
