"""Forecasting: one function, :func:`forecast`, forecasts one series with honest intervals."""

from models.forecasting.forecaster import Forecast, forecast

__all__ = ["Forecast", "forecast"]
