"""A shop closed on Sundays completes its week with the run through Sunday; a shop open on Sundays whose Sunday
file has not come yet does not (a late source is not a quiet day)."""

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
import yaml

from assets.settings import Settings
from orchestration.cli import run_pipeline

pytestmark = pytest.mark.e2e

FIRST, LAST_SUNDAY = dt.date(2026, 1, 5), dt.date(2026, 2, 15)  # a Monday; six weeks to a Sunday


def spec(budget: str) -> dict:
    return {
        "id": budget, "name": budget, "owner": "shop@example.com", "reporting_grain": "week",
        "allocation": {"amount": 1000, "currency": "EUR", "period": "month"},
        "value_chain": ["sales"], "segments": {"levels": ["store"]}, "measures": {"sales": {"min": 0}},
        "metrics": {"sales": {"measure": "sales", "agg": "sum", "step": "sales", "roles": ["output", "north_star"]}},
        "source": {"kind": "files", "pattern": f"{budget}/*.csv", "format": "long", "timestamp": "ts",
                   "timezone": "Europe/Berlin", "segments": {"store": "store"}},
    }


def write_sales(folder: Path, open_on_sunday: bool) -> None:
    """Every day to ``LAST_SUNDAY``, Sundays only when the shop opens on them, and never the last Sunday."""
    rng = np.random.default_rng(1)
    lines = ["ts,store,measure,value"]
    day = FIRST
    while day < LAST_SUNDAY:
        if open_on_sunday or day.weekday() != 6:
            for store in ("a", "b"):
                lines += [f"{day} {hour:02d}:00:00,{store},sales,{rng.gamma(3, 10):.2f}" for hour in (10, 14, 18)]
        day += dt.timedelta(days=1)
    folder.mkdir(parents=True)
    (folder / "sales.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    home = tmp_path_factory.mktemp("closed_days")
    (home / "specs").mkdir()
    for budget, open_on_sunday in (("closed_sundays", False), ("late_sunday", True)):
        (home / "specs" / f"{budget}.yaml").write_text(yaml.safe_dump(spec(budget), sort_keys=False))
        write_sales(home / "landing" / budget, open_on_sunday)
    mp = pytest.MonkeyPatch()
    for key, value in {"BUDGETLENS_HOME": str(home), "BUDGETLENS_DUCKDB": str(home / "budgetlens.duckdb"),
                       "BUDGETLENS_SPECS": str(home / "specs"), "BUDGETLENS_LANDING": str(home / "landing")}.items():
        mp.setenv(key, value)
    mp.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = Settings.from_env()
    result = run_pipeline(FIRST, LAST_SUNDAY, dg.DagsterInstance.ephemeral(), settings)
    assert result.success
    conn = duckdb.connect(str(settings.duckdb_path), read_only=True)
    yield conn
    conn.close()
    mp.undo()


def latest_complete_week(conn, budget: str) -> dt.date:
    return conn.execute("select max(period_start) from main.metric_values where budget_id = ? and grain = 'week' "
                        "and segment_id = '_total' and is_complete", [budget]).fetchone()[0]


def test_every_day_of_the_run_is_recorded_as_ingested(warehouse):
    days = warehouse.execute("select budget_id, count(*), min(day), max(day) from raw.ingested_days "
                             "group by all order by all").fetchall()
    assert days == [(b, 42, FIRST, LAST_SUNDAY) for b in ("closed_sundays", "late_sunday")]


def test_a_shop_closed_on_sundays_completes_its_week_on_the_sunday(warehouse):
    assert latest_complete_week(warehouse, "closed_sundays") == dt.date(2026, 2, 9)
    path = warehouse.execute("select markdown_path from main.briefings where budget_id = 'closed_sundays'").fetchone()[0]
    text = Path(path).read_text()
    assert "**Period:** week starting 2026-02-09" in text
    assert "1 of them in this period" in text  # its Sunday, named with the other quiet days


def test_a_missing_sunday_of_a_shop_open_on_sundays_leaves_its_week_open(warehouse):
    assert latest_complete_week(warehouse, "late_sunday") == dt.date(2026, 2, 2)
