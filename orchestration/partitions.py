"""Partitions: one per day from BUDGETLENS_START_DATE on (a budget's day is a day on its own clock)."""

from __future__ import annotations

import dagster as dg

from assets.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=settings.history_start.isoformat(), timezone="UTC")
