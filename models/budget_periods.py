"""The allocation's periods, tracked as goals.

A budget's money is allocated per month, quarter or year (a fiscal year may begin in any month, its quarters
counting from it). Each period is a ceiling on the metric spent against the allocation, over the period's
days, so it is tracked by the goal machinery like a declared goal: spent so far, projected at the period's
end with an interval, and the chance of staying within it.
"""

from __future__ import annotations

import datetime as dt

from models.spec import ALLOCATION_GOAL_PREFIX, Allocation, BudgetSpec, Goal

MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_bounds(allocation: Allocation, day: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the allocation period holding ``day``."""
    length = MONTHS_IN[allocation.period]
    # months since the start of the (fiscal) year holding day, then back to the period's first month
    into_year = (day.month - allocation.fiscal_year_start) % 12
    start = _add_months(dt.date(day.year, day.month, 1), -(into_year % length))
    return start, _add_months(start, length) - dt.timedelta(days=1)


def period_label(allocation: Allocation, start: dt.date) -> str:
    """A period's name: 2026-11, 2026 Q4, 2026, or for a year beginning in April FY2026/27 and FY2026/27 Q3."""
    if allocation.period == "month":
        return f"{start:%Y-%m}"
    year_start = _add_months(start, -((start.month - allocation.fiscal_year_start) % 12))
    year = str(year_start.year) if allocation.fiscal_year_start == 1 else \
        f"FY{year_start.year}/{(year_start.year + 1) % 100:02d}"
    if allocation.period == "year":
        return year
    return f"{year} Q{(start.month - allocation.fiscal_year_start) % 12 // 3 + 1}"


def period_goal_id(label: str) -> str:
    """The goal id of a period's label (2026 Q4 -> allocation_2026_q4, FY2026/27 -> allocation_fy2026_27)."""
    return ALLOCATION_GOAL_PREFIX + label.lower().replace("/", "_").replace("-", "_").replace(" ", "_")


def allocation_goals(spec: BudgetSpec, today: dt.date) -> list[Goal]:
    """The allocation periods to track on ``today`` (the last day with data): the period holding it, and while
    that period's first reporting period runs and it is not yet over (a briefing then covers a period ending in
    the allocation period before), the period before. None when no metric is spent against the allocation
    (:attr:`BudgetSpec.allocation_metric`)."""
    metric = spec.allocation_metric
    if metric is None:
        return []
    start, end = period_bounds(spec.allocation, today)
    first_report_ends = (_add_months(start, 1) if spec.reporting_grain == "month"
                         else start + dt.timedelta(days=7 if spec.reporting_grain == "week" else 1))
    starts = [start] if today >= first_report_ends or today == end else \
        [period_bounds(spec.allocation, start - dt.timedelta(days=1))[0], start]
    goals = []
    for first in starts:
        _, last = period_bounds(spec.allocation, first)
        goals.append(Goal(id=period_goal_id(period_label(spec.allocation, first)), metric=metric,
                          target=spec.allocation.amount, start=first, deadline=last, aggregation="total",
                          direction="at_most"))
    return goals


def budget_goals(spec: BudgetSpec, today: dt.date) -> list[Goal]:
    """The declared goals, then the allocation's periods."""
    return [*spec.goals, *allocation_goals(spec, today)]
