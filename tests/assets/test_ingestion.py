import datetime as dt
import hashlib

import duckdb
import pandas as pd
import pytest

from assets.ingestion import ingest_window, reconcile
from assets.landing import LandingError, discover
from assets.settings import DEMO_SPECS
from assets.warehouse import prepare
from models.spec import load_spec
from tests.assets.conftest import HISTORY_START, make_spec

MARCH_1, MARCH_3 = dt.date(2026, 3, 1), dt.date(2026, 3, 3)

GOOD_AND_BAD = """id,timestamp,measure,value,channel,campaign
e1,2026-03-01 10:00:00,visit,1,web,spring
e2,yesterday,visit,1,web,spring
e3,2026-03-01 10:05:00,visit,,web,spring
e4,2026-03-01 10:06:00,order_value,abc,web,spring
e5,2026-03-01 10:07:00,order_value,NaN,web,spring
e6,2026-03-01 10:08:00,order_value,-5,web,spring
e7,2026-03-01 10:09:00,refund,3,web,spring
e8,2026-03-01 10:10:00,visit,1,,spring
e9,2026-03-01 10:11:00,visit,1,web,spring/summer
e1,2026-03-01 10:00:00,visit,1,web,spring
e11,2026-03-01 10:00:00+02:00,order_value,25.5,web,spring
e12,1800-01-01 00:00:00,visit,1,web,spring
e13,2026-03-01 10:12:00,visit,1,web,{long}
e14,2026-03-01 10:13:00,order_value,inf,web,spring
e15,2026-03-02 23:30:00Z,order_value,10,mail,newsletter
""".replace("{long}", "x" * 300)


def ingest(conn, spec, landing, start=MARCH_1, end=MARCH_3):
    return ingest_window(conn, spec, start, end, landing_dir=landing, history_start=HISTORY_START, seed=1, scale=1.0)


def table_digest(conn, table):
    rows = conn.execute(f"select * from raw.{table} order by all").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_every_bad_row_is_quarantined_with_its_reason(conn, spec, landing):
    (landing / "shop" / "day1.csv").write_text(GOOD_AND_BAD)
    report = ingest(conn, spec, landing)
    assert report.received == 15 and report.loaded == 3 and report.quarantined == 12
    assert report.received == report.loaded + report.quarantined
    reasons = dict(conn.execute("select source_row, reason from raw.quarantine").fetchall())
    assert reasons[2] == "timestamp not parseable: yesterday"
    assert reasons[3] == "value missing"
    assert reasons[4] == "value not numeric: abc"
    assert reasons[5] == "value not finite: NaN"
    assert reasons[6] == "value -5.0 below minimum 0.0 of measure order_value"
    assert reasons[7] == "unknown measure: refund"
    assert reasons[8] == "segment channel missing"
    assert reasons[9] == 'segment campaign contains "/": spring/summer'
    assert reasons[10] == "duplicate of event e1"
    assert reasons[12] == "timestamp outside 2026-01-01..2100: 1800-01-01 00:00:00"  # on the clock as written
    assert reasons[13] == "segment campaign longer than 200 characters"
    assert reasons[14] == "value not finite: inf"
    record = conn.execute("select record from raw.quarantine where source_row = 4").fetchone()[0]
    assert '"value":"abc"' in record and '"id":"e4"' in record


def on_clock(source: dict, clock: str | None = None):
    spec = make_spec(**source)
    return spec.model_copy(update={"timezone": clock})


def test_time_zones_are_normalised_to_the_budgets_clock(conn, landing):
    (landing / "shop" / "day1.csv").write_text(GOOD_AND_BAD)
    ingest(conn, on_clock({"timezone": "Europe/Paris"}, clock="UTC"), landing)
    times = dict(conn.execute("select event_id, cast(event_ts as varchar) from raw.events").fetchall())
    assert times["e1"] == "2026-03-01 09:00:00"   # naive -> the source's time zone (Paris, UTC+1), told in UTC
    assert times["e11"] == "2026-03-01 08:00:00"  # explicit +02:00 wins
    assert times["e15"] == "2026-03-02 23:30:00"  # explicit Z


def test_a_budget_reads_days_and_hours_on_its_own_clock(conn, landing):
    (landing / "shop" / "day1.csv").write_text(GOOD_AND_BAD)
    # the clock defaults to the source's zone; 23:30Z on 2 March is 3 March in Paris, so the window reaches it
    ingest(conn, make_spec(timezone="Europe/Paris"), landing, end=dt.date(2026, 3, 4))
    rows = {e: (ts, str(day)) for e, ts, day in conn.execute(
        "select event_id, cast(event_ts as varchar), day from raw.events").fetchall()}
    assert rows["e1"] == ("2026-03-01 10:00:00", "2026-03-01")   # naive Paris time stays as written
    assert rows["e11"] == ("2026-03-01 09:00:00", "2026-03-01")  # +02:00 told in Paris (+01:00)
    assert rows["e15"] == ("2026-03-03 00:30:00", "2026-03-03")  # 23:30Z is past midnight in Paris: next day


def test_a_window_is_cut_at_the_clocks_midnight(conn, landing):
    (landing / "shop" / "a.csv").write_text("id,timestamp,measure,value,channel,campaign\n"
                                            "x1,2026-03-01T23:30:00Z,visit,1,web,spring\n"
                                            "x2,2026-03-02T04:30:00Z,visit,1,web,spring\n"
                                            "x3,2026-03-02T05:30:00Z,visit,1,web,spring\n")
    spec = on_clock({}, clock="America/New_York")  # UTC-5 in March: midnight is 05:00Z
    first = ingest(conn, spec, landing, start=MARCH_1, end=dt.date(2026, 3, 2))
    assert (first.received, first.loaded) == (2, 2)  # x3 belongs to another window and is not received here
    second = ingest(conn, spec, landing, start=dt.date(2026, 3, 2), end=MARCH_3)
    assert (second.received, second.loaded) == (1, 1)
    days = dict(conn.execute("select event_id, cast(day as varchar) from raw.events").fetchall())
    assert days == {"x1": "2026-03-01", "x2": "2026-03-01", "x3": "2026-03-02"}
    planned = conn.execute("select first_day, last_day, read_as from raw.landing_files").fetchone()
    assert (str(planned[0]), str(planned[1])) == ("2026-03-01", "2026-03-02") and "America/New_York" in planned[2]


def test_a_dst_change_repeats_an_hour_on_the_clock(conn, landing):
    # New York falls back on 2026-11-01: 05:30Z and 06:30Z are both 01:30 on the clock
    (landing / "shop" / "a.csv").write_text("id,timestamp,measure,value,channel,campaign\n"
                                            "y1,2026-11-01T05:30:00Z,visit,1,web,spring\n"
                                            "y2,2026-11-01T06:30:00Z,visit,1,web,spring\n")
    ingest(conn, on_clock({}, clock="America/New_York"), landing, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 2))
    assert conn.execute("select distinct cast(event_ts as varchar) from raw.events").fetchall() == [("2026-11-01 01:30:00",)]


def test_the_demo_on_another_clock_loads_every_event_of_its_days(tmp_path):
    spec = load_spec(DEMO_SPECS / "customer_support.yaml")
    tokyo = spec.model_copy(update={"timezone": "Asia/Tokyo"})
    window = (dt.date(2026, 3, 1), dt.date(2026, 3, 8))

    def load(s, days, name):
        conn = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        prepare(conn)
        reports = [ingest_window(conn, s, start, end, landing_dir=tmp_path, history_start=HISTORY_START, seed=1,
                                 scale=0.2) for start, end in days]
        return conn, reports

    whole, _ = load(tokyo, [window], "whole")
    by_day, _ = load(tokyo, [(window[0] + dt.timedelta(days=i), window[0] + dt.timedelta(days=i + 1)) for i in range(7)],
                     "by_day")
    utc, _ = load(spec, [(dt.date(2026, 2, 28), dt.date(2026, 3, 9))], "utc")  # the generator's own (UTC) days
    expected = utc.execute(
        "select event_id, cast(timezone('Asia/Tokyo', timezone('UTC', event_ts)) as varchar) as ts from raw.events "
        "where cast(timezone('Asia/Tokyo', timezone('UTC', event_ts)) as date) between '2026-03-01' and '2026-03-07' "
        "order by all").fetchall()
    query = "select event_id, cast(event_ts as varchar) from raw.events order by all"
    assert len(expected) > 500 and whole.execute(query).fetchall() == expected == by_day.execute(query).fetchall()
    documents = "select doc_id, cast(doc_ts as varchar), day from raw.documents order by all"
    assert whole.execute(documents).fetchall() == by_day.execute(documents).fetchall()
    assert whole.execute("select count(*) from raw.documents where cast(doc_ts as date) <> day").fetchone()[0] == 0


def test_rerun_of_a_window_is_idempotent(conn, spec, landing):
    (landing / "shop" / "day1.csv").write_text(GOOD_AND_BAD)
    ingest(conn, spec, landing)
    before = {t: table_digest(conn, t) for t in ("events", "quarantine", "ingestion_log", "segment_members")}
    ingest(conn, spec, landing)
    ingest(conn, spec, landing, start=MARCH_1, end=dt.date(2026, 3, 2))
    assert {t: table_digest(conn, t) for t in before} == before


def test_late_file_is_merged_and_duplicates_dropped_by_event_id(conn, spec, landing):
    (landing / "shop" / "a.csv").write_text("id,timestamp,measure,value,channel,campaign\n"
                                            "x1,2026-03-01 08:00:00,visit,1,web,spring\n")
    ingest(conn, spec, landing)
    (landing / "shop" / "b.csv").write_text("id,timestamp,measure,value,channel,campaign\n"
                                            "x1,2026-03-01 08:00:00,visit,1,web,spring\n"
                                            "x2,2026-03-01 09:00:00,visit,1,web,spring\n")
    report = ingest(conn, spec, landing)
    assert (report.received, report.loaded, report.duplicates) == (3, 2, 1)
    assert conn.execute("select source from raw.quarantine").fetchone()[0] == "shop/b.csv"


def test_content_hash_dedup_without_event_ids(conn, landing):
    """Without ids an event is its content and its occurrence in its file: two visits alike in one minute of
    a file are two visits; the same file landed again under another name, or an export overlapping it, repeats
    them and is quarantined copy for copy (a third visit only in the overlap still loads)."""
    spec = make_spec(event_id=None)
    rows = ("timestamp,measure,value,channel,campaign\n"
            "2026-03-01 08:00:00,visit,1,web,spring\n"
            "2026-03-01 08:00:00,visit,1,web,spring\n"
            "2026-03-01 08:00:00,visit,2,web,spring\n")
    (landing / "shop" / "a.csv").write_text(rows)
    report = ingest(conn, spec, landing)
    assert (report.loaded, report.duplicates) == (3, 0)
    (landing / "shop" / "b.csv").write_text(rows + "2026-03-01 08:00:00,visit,1,web,spring\n")
    report = ingest(conn, spec, landing)
    assert (report.received, report.loaded, report.duplicates) == (7, 4, 3)
    assert conn.execute("select list(source_row order by source_row) from raw.quarantine").fetchone()[0] == [1, 2, 3]
    assert conn.execute("select count(*) from raw.events where value = 1").fetchone()[0] == 3


def test_events_without_ids_load_in_their_files_order_the_same_every_run(conn, landing):
    """Events without ids keep their files' order in raw.events, run after run, their repeated contents numbered
    by occurrence: rows are not handed on in the order of a window over their contents."""
    spec = make_spec(pattern="shop/*.parquet", event_id=None)
    for day in (1, 2):
        seconds = [i - 1 if i % 100 == 1 else i for i in range(20_000)]  # rows 1, 101, ...: the row before again
        pd.DataFrame({"timestamp": pd.Timestamp(2026, 3, day) + pd.to_timedelta(seconds, unit="s"),
                      "measure": "visit", "value": 1.0, "channel": "web", "campaign": "spring"}).to_parquet(
            landing / "shop" / f"day{day}.parquet", index=False)
    layouts = []
    for _ in range(2):
        report = ingest(conn, spec, landing)
        assert (report.received, report.loaded, report.duplicates) == (40_000, 40_000, 0)
        layouts.append(conn.execute("select list((source, source_row, event_id) order by rowid) from raw.events "
                                    "where budget_id = 'shop'").fetchone()[0])
    assert layouts[0] == layouts[1]
    assert [(s, r) for s, r, _ in layouts[0]] == [(f"shop/day{d}.parquet", r) for d in (1, 2) for r in range(1, 20_001)]
    numbers = pd.Series([e.rsplit(":", 1)[1] for _, _, e in layouts[0]]).value_counts().to_dict()
    assert numbers == {"1": 39_600, "2": 400}


def test_wide_files_map_columns_to_measures(conn, landing):
    spec = make_spec(pattern="shop/*.parquet", format="wide", measure=None, value=None, event_id=None,
                     timestamp="ts", measures={"visit": "visits", "order_value": "revenue"},
                     segments={"channel": "ch", "campaign": "cmp"})
    pd.DataFrame({
        "ts": pd.to_datetime(["2026-03-01 08:00", "2026-03-01 09:00", "2026-03-01 10:00"]),
        "ch": ["web", "web", "mail"], "cmp": ["a", "a", "b"],
        "visits": [3.0, None, None], "revenue": [10.0, 20.0, None],
    }).to_parquet(landing / "shop" / "wide.parquet")
    report = ingest(conn, spec, landing)
    assert (report.received, report.loaded, report.quarantined) == (4, 3, 1)
    assert conn.execute("select reason from raw.quarantine").fetchone()[0] == "measure missing"


def test_wide_files_of_two_systems_each_load_the_measures_they_carry(conn, landing):
    """Till exports hold revenue, door counters hold visits: each file loads its own measure; a file with
    neither column is quarantined whole, naming the columns it needed one of; a measure column in no file
    (a misspelt spec) is reported."""
    spec = make_spec(pattern="shop/*.parquet", format="wide", measure=None, value=None, event_id=None,
                     timestamp="ts", measures={"visit": "visits", "order_value": "revenue"},
                     segments={"channel": "ch", "campaign": "cmp"})
    rows = {"ts": pd.to_datetime(["2026-03-01 08:00", "2026-03-01 09:00"]), "ch": ["web", "web"], "cmp": ["a", "b"]}
    pd.DataFrame(rows | {"revenue": [10.0, 20.0]}).to_parquet(landing / "shop" / "tills.parquet")
    pd.DataFrame(rows | {"visits": [3.0, 4.0]}).to_parquet(landing / "shop" / "doors.parquet")
    pd.DataFrame(rows | {"note": ["x", "y"]}).to_parquet(landing / "shop" / "notes.parquet")
    report = ingest(conn, spec, landing)
    assert (report.received, report.loaded, report.quarantined) == (6, 4, 2)
    assert conn.execute("select measure, source, sum(value) from raw.events group by all order by 1").fetchall() == [
        ("order_value", "shop/tills.parquet", 30.0), ("visit", "shop/doors.parquet", 7.0)]
    assert conn.execute("select distinct source, reason from raw.quarantine").fetchall() == [
        ("shop/notes.parquet", "file has none of the measure columns: revenue, visits")]
    assert report.measures_without_column == ()
    (landing / "shop" / "doors.parquet").unlink()
    assert ingest(conn, spec, landing).measures_without_column == ("visit (column visits)",)


def test_wide_rows_without_ids_are_told_apart_by_the_whole_row(conn, landing):
    """Two visits in the same minute with different revenue are two rows, so both visit events load; a row
    repeated cell for cell by another file is a duplicate in every measure (a row is never half loaded)."""
    spec = make_spec(pattern="shop/*.csv", format="wide", measure=None, value=None, event_id=None,
                     timestamp="ts", measures={"visit": "visits", "order_value": "revenue"},
                     segments={"channel": "ch", "campaign": "cmp"})
    (landing / "shop" / "wide.csv").write_text("ts,ch,cmp,visits,revenue\n"
                                               "2026-03-01 08:00:00,web,a,1,10.5\n"
                                               "2026-03-01 08:00:00,web,a,1,12.0\n")
    (landing / "shop" / "x_again.csv").write_text("ts,ch,cmp,visits,revenue\n"
                                                  "2026-03-01 08:00:00,web,a,1,12.0\n")
    report = ingest(conn, spec, landing)
    assert (report.received, report.loaded, report.duplicates) == (6, 4, 2)
    loaded = conn.execute("select measure, count(*) from raw.events group by 1 order by 1").fetchall()
    assert loaded == [("order_value", 2), ("visit", 2)]
    assert conn.execute("select list(distinct source), list(source_row) from raw.quarantine").fetchone() == (
        ["shop/x_again.csv"], [1, 1])


def test_missing_column_quarantines_every_row_naming_the_column(conn, spec, landing):
    (landing / "shop" / "a.csv").write_text("id,timestamp,measure,channel,campaign\n"
                                            "x1,2026-03-01 08:00:00,visit,web,spring\n")
    report = ingest(conn, spec, landing)
    assert (report.loaded, report.quarantined) == (0, 1)
    assert conn.execute("select reason from raw.quarantine").fetchone()[0] == "file lacks column(s): value"


@pytest.mark.parametrize("name, content", [
    ("broken.parquet", b"PAR1 this is not parquet"),
    ("latin1.csv", "id,timestamp,measure,value,channel,campaign\nx,2026-03-01 08:00:00,visit,1,caf\xe9,a\n".encode("latin-1")),
])
def test_unreadable_files_are_kept_as_a_quarantine_entry(conn, landing, name, content):
    spec = make_spec(pattern="shop/*")
    (landing / "shop" / name).write_bytes(content)
    report = ingest(conn, spec, landing)
    assert report.loaded == 0
    source, reason = conn.execute("select source, reason from raw.quarantine").fetchone()
    assert source == f"shop/{name}" and reason.startswith("unreadable file")
    log = conn.execute("select received, loaded, quarantined from raw.ingestion_log").fetchall()
    assert log == [(1, 0, 1)]


def test_a_file_once_unreadable_is_read_again(conn, spec, landing):
    """Only successful probes are cached: a file an older reader could not read is probed again."""
    (landing / "shop" / "a.csv").write_text(GOOD_AND_BAD)
    file = discover(spec, landing)[0]
    ingest(conn, spec, landing)
    conn.execute("update raw.landing_files set first_day = null, last_day = null, error = 'shop/a.csv: cannot read'"
                 " where fingerprint = ?", [file.fingerprint])
    loaded = ingest(conn, spec, landing).loaded
    assert loaded > 0 and conn.execute("select count(*) from raw.quarantine where source = 'shop/a.csv' "
                                       "and reason like 'unreadable%'").fetchone()[0] == 0
    assert conn.execute("select error from raw.landing_files").fetchall() == [(None,)]


def test_a_file_read_by_another_timestamp_column_is_planned_again(conn, landing):
    """The cached day range belongs to how the spec reads the file: a new timestamp column moves its days."""
    (landing / "shop" / "a.csv").write_text("id,timestamp,created,measure,value,channel,campaign\n"
                                            "x1,2026-03-01 08:00:00,2026-03-05 08:00:00,visit,1,web,spring\n")
    assert ingest(conn, make_spec(), landing).loaded == 1
    moved = ingest(conn, make_spec(timestamp="created"), landing, start=dt.date(2026, 3, 5), end=dt.date(2026, 3, 6))
    assert moved.loaded == 1
    assert conn.execute("select first_day, read_as from raw.landing_files").fetchall() == [
        (dt.date(2026, 3, 5), "events by 'created' in UTC, days in UTC")]


def test_empty_file_is_harmless(conn, spec, landing):
    (landing / "shop" / "empty.csv").write_text("")
    report = ingest(conn, spec, landing)
    assert report.received == report.loaded + report.quarantined


def test_links_out_of_the_landing_folder_are_refused(spec, landing, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("id,timestamp\n")
    (landing / "shop" / "evil.csv").symlink_to(outside)
    with pytest.raises(LandingError, match="outside the landing folder"):
        discover(spec, landing)


def test_demo_source_reconciles_and_reruns_identically(conn, landing):
    spec = load_spec(DEMO_SPECS / "product_delivery.yaml")
    report = ingest_window(conn, spec, MARCH_1, MARCH_3, landing_dir=landing, history_start=HISTORY_START,
                           seed=5, scale=0.2)
    counts = reconcile(conn, spec.id, MARCH_1, MARCH_3)
    assert counts["received"] == counts["loaded"] + counts["quarantined"] == report.received + report.documents
    assert report.received > 0 and report.documents > 0
    assert counts["logged_loaded"] == counts["loaded"]
    before = table_digest(conn, "events")
    ingest_window(conn, spec, MARCH_1, MARCH_3, landing_dir=landing, history_start=HISTORY_START, seed=5, scale=0.2)
    assert table_digest(conn, "events") == before


def test_patterns_climbing_out_of_the_landing_folder_are_refused():
    from models.spec import SpecError
    from tests.assets.conftest import make_spec

    for pattern in ("../*.csv", "shop/../../*.csv", "/etc/*"):
        with pytest.raises(SpecError, match="pattern must stay inside the landing folder"):
            make_spec(pattern=pattern)


def _parquet_day(path, day: int, rows: int, extra: dict | None = None) -> None:
    frame = pd.DataFrame({
        "id": [f"d{day}-{i}" for i in range(rows)],
        "timestamp": pd.Timestamp(2026, 3, day, 10) + pd.to_timedelta(range(rows), unit="min"),
        "measure": "order_value", "value": [float(i) for i in range(rows)],
        "channel": "web", "campaign": "spring", **(extra or {})})
    if rows:
        frame.loc[rows - 1, "value"] = -1.0  # the last row of each file breaks the measure's minimum
    frame.to_parquet(path, index=False)


def test_parquet_files_judged_together_keep_their_own_sources_and_rows(conn, landing, monkeypatch):
    spec = make_spec(pattern="shop/*.parquet")
    for day in (1, 2):
        _parquet_day(landing / "shop" / f"day{day}.parquet", day, rows=4)
    _parquet_day(landing / "shop" / "day3.parquet", 3, rows=3, extra={"note": "x"})  # other columns: own batch
    digests = {}
    for batch_rows in (1, 1_000):  # every file alone, then the files of the same columns in one statement
        monkeypatch.setattr("assets.ingestion.BATCH_ROWS", batch_rows)
        report = ingest(conn, spec, landing, end=dt.date(2026, 3, 4))
        assert (report.received, report.loaded, report.quarantined) == (11, 8, 3)
        digests[batch_rows] = {t: table_digest(conn, t) for t in ("events", "quarantine", "ingestion_log")}
    assert digests[1] == digests[1_000]
    assert conn.execute("select source, source_row from raw.quarantine order by all").fetchall() == [
        ("shop/day1.parquet", 4), ("shop/day2.parquet", 4), ("shop/day3.parquet", 3)]
    assert conn.execute("select source, min(source_row), max(source_row), count(*) from raw.events "
                        "group by all order by all").fetchall() == [
        ("shop/day1.parquet", 1, 3, 3), ("shop/day2.parquet", 1, 3, 3), ("shop/day3.parquet", 1, 2, 2)]
    assert conn.execute("select source, received, loaded, quarantined from raw.ingestion_log order by all").fetchall() == [
        ("shop/day1.parquet", 4, 3, 1), ("shop/day2.parquet", 4, 3, 1), ("shop/day3.parquet", 3, 2, 1)]


@pytest.mark.parametrize("column", ["file_row_number", "file_index"])
def test_a_parquet_column_named_like_the_readers_own_is_loaded(conn, landing, column):
    spec = make_spec(pattern="shop/*.parquet")
    _parquet_day(landing / "shop" / "day1.parquet", 1, rows=3, extra={column: [7, 8, 9]})
    _parquet_day(landing / "shop" / "day2.parquet", 2, rows=3, extra={column: [7, 8, 9]})
    report = ingest(conn, spec, landing)
    assert (report.received, report.loaded, report.quarantined) == (6, 4, 2)
    assert conn.execute("select source, source_row from raw.quarantine order by all").fetchall() == [
        ("shop/day1.parquet", 3), ("shop/day2.parquet", 3)]
    record = conn.execute("select record from raw.quarantine order by source limit 1").fetchone()[0]
    assert f'"{column}":9' in record


EUROPEAN = """id;timestamp;measure;value;channel;campaign
e1;01.03.2026 10:00;order_value;1.234,56;web;spring
e2;01.03.2026 23:59;order_value;7,5;web;spring
e3;2026-03-01 10:00;order_value;3;web;spring
e4;02.03.2026 08:15;order_value;12.50;web;spring
e5;02.03.2026 08:20;visit;1;mail;newsletter
"""


def test_a_spreadsheets_own_number_and_date_formats_are_read_when_the_source_names_them(conn, landing):
    """A German export: semicolons, day-first dates, decimal commas and grouping dots. Named in the source, they
    are read; a cell in another form is quarantined saying which format it missed."""
    (landing / "shop" / "export.csv").write_text(EUROPEAN)
    spec = make_spec(timestamp_format="%d.%m.%Y %H:%M", decimal_separator=",", thousands_separator=".")
    ingest(conn, spec, landing)
    loaded = dict(conn.execute("select event_id, value from raw.events").fetchall())
    days = dict(conn.execute("select event_id, cast(day as varchar) from raw.events").fetchall())
    # 12.50 in this file's format is twelve hundred and fifty: the dot groups thousands
    assert loaded == {"e1": 1234.56, "e2": 7.5, "e4": 1250.0, "e5": 1.0}
    assert days == {"e1": "2026-03-01", "e2": "2026-03-01", "e4": "2026-03-02", "e5": "2026-03-02"}
    assert conn.execute("select source_row, reason from raw.quarantine").fetchall() == [
        (3, "timestamp not parseable as %d.%m.%Y %H:%M: 2026-03-01 10:00")]
    landed = conn.execute("select first_day, last_day from raw.landing_files").fetchone()
    assert landed == (dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    # without the formats the same file is quarantined row by row, naming each cell
    conn.execute("delete from raw.landing_files")
    ingest(conn, make_spec(), landing)
    reasons = [r for (r,) in conn.execute("select reason from raw.quarantine order by source_row").fetchall()]
    assert reasons[0] == "timestamp not parseable: 01.03.2026 10:00"


def test_timestamp_formats_and_separators_are_validated():
    from models.spec import SpecError

    with pytest.raises(SpecError, match="needs a day"):
        make_spec(timestamp_format="%H:%M")
    with pytest.raises(SpecError, match="unknown directive"):
        make_spec(timestamp_format="%d.%m.%Y %Q")
    with pytest.raises(SpecError, match="both ','"):
        make_spec(decimal_separator=",", thousands_separator=",")


def test_a_time_before_the_history_on_the_budget_s_clock_says_how_the_clock_reads_it(conn, landing):
    # 02:00 UTC on the history's first day is the evening before in New York: outside the kept history
    (landing / "shop" / "day1.csv").write_text("id,timestamp,measure,value,channel,campaign\n"
                                               "e1,2026-01-01T02:00:00Z,visit,1,web,spring\n"
                                               "e2,2026-01-01T06:00:00Z,visit,1,web,spring\n")
    ingest(conn, on_clock({}, clock="America/New_York"), landing, start=dt.date(2026, 1, 1), end=MARCH_3)
    reasons = dict(conn.execute("select source_row, reason from raw.quarantine").fetchall())
    assert reasons[1] == ("timestamp outside 2026-01-01..2100: 2026-01-01T02:00:00Z "
                          "(2025-12-31 21:00:00 on the budget clock, America/New_York)")
    assert conn.execute("select event_id, cast(day as varchar) from raw.events").fetchall() == [("e2", "2026-01-01")]


def test_a_file_of_none_but_rows_older_than_the_history_is_quarantined_with_the_first_day(conn, spec, landing):
    (landing / "shop" / "old.csv").write_text("id,timestamp,measure,value,channel,campaign\n"
                                              "e1,2025-12-30 10:00:00,visit,1,web,spring\n"
                                              "e2,2025-12-31 10:00:00,visit,1,web,spring\n")
    assert ingest(conn, spec, landing).received == 0  # March's window: not this file's
    first = ingest(conn, spec, landing, start=HISTORY_START, end=HISTORY_START + dt.timedelta(days=1))
    assert (first.received, first.loaded, first.quarantined) == (2, 0, 2)
    reasons = conn.execute("select reason from raw.quarantine order by source_row").fetchall()
    assert reasons == [("timestamp outside 2026-01-01..2100: 2025-12-30 10:00:00",),
                       ("timestamp outside 2026-01-01..2100: 2025-12-31 10:00:00",)]
    again = ingest(conn, spec, landing, start=HISTORY_START, end=HISTORY_START + dt.timedelta(days=1))
    assert (again.received, again.quarantined) == (2, 2)  # replaced, not added
    assert conn.execute("select count(*) from raw.quarantine").fetchone()[0] == 2
