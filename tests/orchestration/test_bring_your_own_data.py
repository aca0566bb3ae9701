"""A user's own spec and landing files, no demo budgets, retention on, and an LLM endpoint that fails."""

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
import yaml

from assets.settings import Settings
from orchestration.cli import run_pipeline
from tests.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.e2e

PLANTED_KEY = "sk-ant-test-PLANTED-KEY-must-never-leak-0123456789"
SPEC = {
    "id": "webshop", "name": "Web shop", "owner": "shop@example.com",
    "allocation": {"amount": 50000, "currency": "EUR", "period": "month"},
    "value_chain": ["traffic", "sales"],
    "segments": {"levels": ["channel", "campaign"]},
    "measures": {"visits": {"min": 0}, "revenue": {"min": 0}},
    "metrics": {
        "visits": {"measure": "visits", "agg": "sum", "step": "traffic", "roles": ["input", "leading"]},
        "orders": {"measure": "revenue", "agg": "count", "step": "sales", "roles": ["output"]},
        "revenue": {"measure": "revenue", "agg": "sum", "step": "sales", "roles": ["output", "north_star"], "unit": "EUR"},
        "conversion_rate": {"formula": "orders / visits", "step": "sales", "unit": "ratio"},
    },
    "holidays": [{"country": "DE", "subdivision": "BE"}],
    "goals": [{"id": "q1_revenue", "metric": "revenue", "target": 20000, "start": "2026-01-01", "deadline": "2026-03-31"}],
    "source": {"kind": "files", "pattern": "webshop/*.csv", "format": "wide", "timestamp": "ts",
               "timezone": "Europe/Berlin", "measure": None, "value": None, "measures": {"visits": "visits", "revenue": "revenue"},
               "segments": {"channel": "channel", "campaign": "campaign"}},
}


def write_landing(folder: Path) -> int:
    rng = np.random.default_rng(4)
    lines = ["ts,channel,campaign,visits,revenue"]
    for day in range(45):
        for hour in range(0, 24, 3):
            for channel, campaign in (("web", "search"), ("web", "social"), ("mail", "newsletter")):
                ts = dt.datetime(2026, 1, 1) + dt.timedelta(days=day, hours=hour)
                revenue = "" if rng.random() < 0.6 else f"{rng.gamma(3, 20):.2f}"
                lines.append(f"{ts:%Y-%m-%d %H:%M:%S},{channel},{campaign},{rng.poisson(30)},{revenue}")
    lines.append("2026-01-05 10:00:00,web,search,-3,")  # negative visits: quarantined
    lines.append("not a time,web,search,5,10")           # bad timestamp: quarantined with no day
    (folder / "webshop").mkdir(parents=True)
    (folder / "webshop" / "jan-feb.csv").write_text("\n".join(lines) + "\n")
    return len(lines) - 1


@pytest.fixture(scope="module")
def byo(tmp_path_factory):
    home = tmp_path_factory.mktemp("byo")
    (home / "specs").mkdir()
    (home / "specs" / "webshop.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    write_landing(home / "landing")
    mp = pytest.MonkeyPatch()
    for key, value in {"BUDGETLENS_HOME": str(home), "BUDGETLENS_DUCKDB": str(home / "budgetlens.duckdb"), "BUDGETLENS_SPECS": str(home / "specs"),
                       "BUDGETLENS_LANDING": str(home / "landing"), "BUDGETLENS_RAW_RETENTION_DAYS": "10",
                       "BUDGETLENS_HOURLY_RETENTION_DAYS": "20", "ANTHROPIC_API_KEY": PLANTED_KEY}.items():
        mp.setenv(key, value)
    with FakeAnthropic(statuses=(529,)) as fake:
        mp.setenv("ANTHROPIC_BASE_URL", fake.url)
        settings = Settings.from_env()
        result = run_pipeline(dt.date(2026, 1, 1), dt.date(2026, 2, 14), dg.DagsterInstance.ephemeral(), settings)
    conn = duckdb.connect(str(settings.duckdb_path), read_only=True)
    yield settings, result, conn, fake
    conn.close()
    mp.undo()


def test_only_the_users_budget_is_built(byo):
    _, result, conn, _ = byo
    assert result.success
    assert conn.execute("select distinct budget_id from main.metric_values").fetchall() == [("webshop",)]
    assert conn.execute("select count(*) from main.briefings").fetchone()[0] == 1


def test_received_equals_loaded_plus_quarantined(byo):
    _, _, conn, _ = byo
    received, loaded, quarantined = conn.execute(
        "select sum(received), sum(loaded), sum(quarantined) from raw.ingestion_log").fetchone()
    assert received == loaded + quarantined and quarantined == 3  # the bad-time wide row holds two measures
    reasons = {r[0] for r in conn.execute("select reason from raw.quarantine").fetchall()}
    assert reasons == {"value -3.0 below minimum 0.0 of measure visits", "timestamp not parseable: not a time"}
    # the briefing counts the same: events, of which a wide file's row holds one per measure
    briefing = Path(conn.execute("select markdown_path from main.briefings").fetchone()[0]).read_text()
    assert f"- Events received {received:,}, loaded {loaded:,}, quarantined 3 (" in briefing


def test_retention_keeps_statistics_but_bounds_raw_storage(byo):
    _, _, conn, _ = byo
    first_raw, first_hourly, first_daily = conn.execute(
        "select (select min(day) from raw.events), (select min(day) from main.fct_digest_hourly), "
        "(select min(day) from main.fct_digest_daily)").fetchone()
    assert (first_raw, first_hourly, first_daily) == (dt.date(2026, 2, 5), dt.date(2026, 1, 26), dt.date(2026, 1, 1))
    loaded = conn.execute("select sum(loaded) from raw.ingestion_log").fetchone()[0]
    assert conn.execute("select sum(event_count) from main.fct_digest_daily").fetchone()[0] == loaded


def test_days_and_hours_are_the_shops_own(byo):
    # naive Berlin times on a Berlin clock: midnight of 1 January is 1 January's first hour, not 31 December's last
    _, _, conn, _ = byo
    first_daily, first_hour = conn.execute(
        "select (select min(day) from main.fct_digest_daily), (select min(hour_start) from main.fct_digest_hourly "
        "where day = date '2026-02-14')").fetchone()
    assert (first_daily, first_hour) == (dt.date(2026, 1, 1), dt.datetime(2026, 2, 14, 0, 0))
    assert conn.execute("select timezone from raw.budgets").fetchone()[0] == "Europe/Berlin"
    path = conn.execute("select markdown_path from main.briefings").fetchone()[0]
    assert "- Last event: 2026-02-14T21:00:00 Europe/Berlin." in Path(path).read_text()


def test_the_shops_public_holidays_are_known_events(byo):
    _, _, conn, _ = byo
    holidays = conn.execute("select event_date, name from raw.known_events where kind = 'holiday' "
                            "and event_date < '2026-06-01' order by all").fetchall()
    # from the first day kept (the run's start): Berlin's own holiday, Women's Day, beside the national ones
    assert holidays[:3] == [(dt.date(2026, 1, 1), "New Year's Day (DE-BE)"),
                            (dt.date(2026, 3, 8), "Women's Day (DE-BE)"),
                            (dt.date(2026, 4, 3), "Good Friday (DE-BE)")]
    path = conn.execute("select markdown_path from main.briefings").fetchone()[0]
    assert "- 2026-01-01: New Year's Day (DE-BE) (holiday)" in Path(path).read_text()


def test_a_monthly_budget_with_one_complete_month_gets_archetypes_by_week(byo):
    _, _, conn, _ = byo
    rows = conn.execute("select segment_id, grain, periods from main.segment_archetypes order by all").fetchall()
    assert rows == [("mail", "week", 5), ("web", "week", 5)]  # the weeks from Monday 5 January to Sunday 8 February


def test_llm_failure_falls_back_to_the_labelled_template(byo):
    settings, _, conn, fake = byo
    writer, reason, path = conn.execute("select writer, fallback_reason, markdown_path from main.briefings").fetchone()
    assert writer == "template" and reason == "LLM call failed: OverloadedError (HTTP 529)"
    assert "deterministic template — fallback: LLM call failed: OverloadedError (HTTP 529)" in Path(path).read_text()
    # two calls (the archetypes', then the briefing's), each tried 1 + 3 times by the SDK's own retries
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {PLANTED_KEY}"
    assert [r["headers"]["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2", "3"] * 2
    calls = conn.execute("select purpose, outcome from raw.llm_calls order by call_seq").fetchall()
    assert [purpose for purpose, _ in calls] == ["archetypes", "briefing"] and len({o for _, o in calls}) == 1
    archetypes = conn.execute("select distinct method, fallback_reason from main.segment_archetypes").fetchall()
    assert archetypes == [("quadrant rule (median splits)", "LLM call failed: OverloadedError (HTTP 529)")]


def test_the_key_never_reaches_an_output(byo):
    settings, _, conn, _ = byo
    for file in settings.output_dir.rglob("*"):
        if file.is_file():
            assert PLANTED_KEY not in file.read_text(errors="ignore"), file
    for schema, table in conn.execute("select table_schema, table_name from information_schema.tables").fetchall():
        dump = repr(conn.execute(f'select * from "{schema}"."{table}"').fetchall())
        assert PLANTED_KEY not in dump, table
