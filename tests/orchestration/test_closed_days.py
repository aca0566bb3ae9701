"""A shop closed on Sundays completes its week with the run through Sunday; a shop open on Sundays whose Sunday
file has not come yet does not (a late source is not a quiet day), nor does one whose Sunday was cut short at
noon (an export in another clock); one whose few evening sales simply had not come by its closing hour does."""

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


def write_sales(folder: Path, open_on_sunday: bool, hours=(10, 14, 18), last_until: int | None = None) -> None:
    """Every day to ``LAST_SUNDAY`` at ``hours``, Sundays only when the shop opens on them; the last Sunday only
    when ``last_until`` is given, and then only its hours before it."""
    rng = np.random.default_rng(1)
    lines = ["ts,store,measure,value"]
    day = FIRST
    while day <= LAST_SUNDAY:
        last = day == LAST_SUNDAY
        if (open_on_sunday or day.weekday() != 6) and (not last or last_until is not None):
            for store in ("a", "b"):
                lines += [f"{day} {hour:02d}:00:00,{store},sales,{rng.gamma(3, 10):.2f}" for hour in hours
                          if not last or hour < last_until]
        day += dt.timedelta(days=1)
    folder.mkdir(parents=True)
    (folder / "sales.csv").write_text("\n".join(lines) + "\n")


SHOPS = {  # budget: (open on Sundays, hours with a sale, the last Sunday's hours before this one only)
    "closed_sundays": (False, (10, 14, 18), None),
    "late_sunday": (True, (10, 14, 18), None),
    # a sale every hour: 22 a Sunday after 11:00 usually (2 stores), none on the last one
    "cut_short": (True, tuple(range(24)), 12),
    # busy to 17:00, one sale a store at 20:00: 2 a Sunday after 17:00 usually, too few to tell
    "quiet_evening": (True, (*range(9, 18), 20), 18),
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    home = tmp_path_factory.mktemp("closed_days")
    (home / "specs").mkdir()
    for budget, (open_on_sunday, hours, last_until) in SHOPS.items():
        (home / "specs" / f"{budget}.yaml").write_text(yaml.safe_dump(spec(budget), sort_keys=False))
        write_sales(home / "landing" / budget, open_on_sunday, hours, last_until)
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
    assert days == [(b, 42, FIRST, LAST_SUNDAY) for b in sorted(SHOPS)]


def test_a_shop_closed_on_sundays_completes_its_week_on_the_sunday(warehouse):
    assert latest_complete_week(warehouse, "closed_sundays") == dt.date(2026, 2, 9)
    path = warehouse.execute("select markdown_path from main.briefings where budget_id = 'closed_sundays'").fetchone()[0]
    text = Path(path).read_text()
    assert "**Period:** week starting 2026-02-09" in text
    assert "1 of them in this period" in text  # its Sunday, named with the other quiet days


def test_a_missing_sunday_of_a_shop_open_on_sundays_leaves_its_week_open(warehouse):
    assert latest_complete_week(warehouse, "late_sunday") == dt.date(2026, 2, 2)


def test_a_last_day_cut_short_leaves_its_week_open_and_the_briefing_says_so(warehouse):
    assert latest_complete_week(warehouse, "cut_short") == dt.date(2026, 2, 2)
    open_day = warehouse.execute(
        "select is_complete from main.metric_values where budget_id = 'cut_short' and grain = 'day' "
        "and segment_id = '_total' and period_start = ?", [LAST_SUNDAY]).fetchone()
    assert open_day == (False,)
    path = warehouse.execute("select markdown_path from main.briefings where budget_id = 'cut_short'").fetchone()[0]
    text = Path(path).read_text()
    assert "(data through 2026-02-15, a day cut short)" in text
    assert "The day 2026-02-15 is cut short" in text


def test_a_last_day_whose_few_evening_events_had_not_come_stands_whole(warehouse):
    assert latest_complete_week(warehouse, "quiet_evening") == dt.date(2026, 2, 9)
    path = warehouse.execute("select markdown_path from main.briefings where budget_id = 'quiet_evening'").fetchone()[0]
    assert "cut short" not in Path(path).read_text()
