"""Documents landed as files (``source.documents``): judged, loaded or quarantined with a reason, and ledgered."""

import datetime as dt
import hashlib

import pandas as pd
import pytest

from assets.ingestion import ingest_window, reconcile
from assets.landing import discover
from assets.llm import AnthropicLLM
from assets.text_metric_assets import _documents, _scopes, read_text_metric
from assets.warehouse import prepare
from models.spec import parse_spec
from tests.assets.conftest import HISTORY_START, SPEC, make_spec

MARCH_1, MARCH_3 = dt.date(2026, 3, 1), dt.date(2026, 3, 3)
EVENTS = "id,timestamp,measure,value,channel,campaign\nx1,2026-03-01 08:00:00,visit,1,web,spring\n"
TICKETS = """ticket,created,type,body,channel,campaign
t1,2026-03-01 09:00:00,ticket,The checkout keeps failing,web,spring
t2,2026-03-01 09:30:00,ticket,,web,spring
t3,not a time,ticket,Slow pages,web,spring
t4,2026-03-01 10:00:00,Ticket,Mixed case kind,web,spring
t5,2026-03-01 10:30:00,ticket,No campaign given,web,
t1,2026-03-01 09:00:00,ticket,The checkout keeps failing,web,spring
t6,2026-03-02 23:00:00+00:00,meeting_note,Team is upbeat about the launch,mail,newsletter
t7,2026-03-01 11:00:00,,No kind at all,web,spring
"""
DOCUMENTS = {"pattern": "shop/tickets*.csv", "timestamp": "created", "text": "body", "kind_column": "type",
             "doc_id": "ticket"}


def ingest(conn, spec, landing, start=MARCH_1, end=MARCH_3):
    return ingest_window(conn, spec, start, end, landing_dir=landing, history_start=HISTORY_START, seed=1, scale=1.0)


def digest(conn, table):
    return hashlib.sha256(repr(conn.execute(f"select * from raw.{table} order by all").fetchall()).encode()).hexdigest()


def test_documents_are_loaded_or_quarantined_with_their_reason(conn, landing):
    spec = make_spec(pattern="shop/*.csv", documents=[DOCUMENTS])
    (landing / "shop" / "events.csv").write_text(EVENTS)
    (landing / "shop" / "tickets-march.csv").write_text(TICKETS)
    report = ingest(conn, spec, landing)
    # the tickets file matches both patterns: it holds documents only, so no event row is quarantined for it
    assert (report.received, report.loaded, report.quarantined) == (1, 1, 0)
    assert (report.documents, report.documents_quarantined) == (2, 6)
    loaded = conn.execute("select doc_id, kind, segment_id, cast(doc_ts as varchar), source, source_row "
                          "from raw.documents order by doc_id").fetchall()
    assert loaded == [("t1", "ticket", "web/spring", "2026-03-01 09:00:00", "shop/tickets-march.csv", 1),
                      ("t6", "meeting_note", "mail/newsletter", "2026-03-02 23:00:00", "shop/tickets-march.csv", 7)]
    reasons = dict(conn.execute("select source_row, reason from raw.quarantine").fetchall())
    assert reasons == {2: "document text missing", 3: "timestamp not parseable: not a time",
                       4: "document kind not a lower_snake_case name: Ticket", 5: "segment campaign missing",
                       6: "duplicate of document t1", 8: "document kind missing"}
    record = conn.execute("select record from raw.quarantine where source_row = 4").fetchone()[0]
    assert '"body":"Mixed case kind"' in record
    log = conn.execute("select content, sum(received), sum(loaded), sum(quarantined) from raw.ingestion_log "
                       "group by all order by all").fetchall()
    assert log == [("documents", 8, 2, 6), ("events", 1, 1, 0)]
    counts = reconcile(conn, spec.id, MARCH_1, MARCH_3)  # the window's days: row 3 has no day, it is the file's
    assert counts["received"] == counts["loaded"] + counts["quarantined"] == 8
    assert (counts["logged_loaded"], counts["logged_quarantined"]) == (counts["loaded"], counts["quarantined"])


def test_rerunning_a_window_of_documents_changes_nothing(conn, landing):
    spec = make_spec(documents=[DOCUMENTS])
    (landing / "shop" / "events.csv").write_text(EVENTS)
    (landing / "shop" / "tickets-march.csv").write_text(TICKETS)
    ingest(conn, spec, landing)
    tables = ("events", "documents", "quarantine", "ingestion_log")
    before = {t: digest(conn, t) for t in tables}
    ingest(conn, spec, landing)
    ingest(conn, spec, landing, start=MARCH_1, end=dt.date(2026, 3, 2))
    assert {t: digest(conn, t) for t in tables} == before


def test_a_fixed_kind_content_ids_and_documents_naming_only_the_top_level(conn, landing, monkeypatch):
    documents = {"pattern": "shop/notes.parquet", "timestamp": "at", "text": "note", "kind": "meeting_note",
                 "segments": {"channel": "team"}, "timezone": "Europe/Paris"}
    spec = make_spec(documents=[documents])
    pd.DataFrame({"at": pd.to_datetime(["2026-03-01 10:00", "2026-03-01 10:00", "2026-03-02 12:00"]),
                  "team": ["web", "web", "mail"],
                  "note": ["Everyone is tired", "Everyone is tired", "Great progress"]}).to_parquet(landing / "shop" / "notes.parquet")
    report = ingest(conn, spec, landing)
    assert (report.documents, report.documents_quarantined) == (2, 1)  # the same content twice: one kept
    rows = conn.execute("select kind, segment_id, cast(doc_ts as varchar), length(doc_id) from raw.documents "
                        "order by doc_ts").fetchall()
    assert rows == [("meeting_note", "web", "2026-03-01 09:00:00", 32), ("meeting_note", "mail", "2026-03-02 11:00:00", 32)]
    # read at the top level, each document counts toward its channel; at a level below it counts toward the total only
    with_text = parse_spec({**SPEC, "metrics": {**SPEC["metrics"], "morale": {
        "text": {"kinds": ["meeting_note"], "question": "How is the team's morale?", "min": 1, "max": 5,
                 "min_confidence": 0, "level": "channel"}, "step": "sales"}},
        "source": {**SPEC["source"], "documents": [documents]}}, "shop.yaml")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    llm = AnthropicLLM()
    readings = read_text_metric(conn, with_text, "morale", llm, llm.ledger(conn, "test-run"), {})
    values = {r["segment_id"]: (r["documents_available"], r["value"], r["provenance"]) for r in readings}
    assert set(values) == {"_total", "web", "mail"} and values["_total"][0] == 2
    assert values["web"][0] == values["mail"][0] == 1 and values["web"][1] < 3 < values["mail"][1]
    assert {v[2] for v in values.values()} == {"text_scored"}
    # read a level below what the documents name, each counts toward the total only
    text = with_text.metrics["morale"].text.model_copy(update={"level": "campaign"})
    assert [(level, node) for _, level, node, _ in _scopes(_documents(conn, spec, text, "month"), "campaign")] == [
        ("_total", "_total")]


def test_an_unreadable_documents_file_is_one_quarantine_entry(conn, landing):
    spec = make_spec(documents=[{**DOCUMENTS, "pattern": "shop/tickets*"}])
    (landing / "shop" / "tickets.parquet").write_bytes(b"PAR1 not parquet")
    report = ingest(conn, spec, landing)
    assert report.documents_quarantined == 1
    assert conn.execute("select content, received, loaded, quarantined from raw.ingestion_log").fetchall() == [
        ("documents", 1, 0, 1)]
    assert conn.execute("select reason from raw.quarantine").fetchone()[0].startswith("unreadable file")


def test_the_first_documents_pattern_that_matches_a_file_reads_it(landing):
    spec = make_spec(pattern="shop/*", documents=[DOCUMENTS, {**DOCUMENTS, "pattern": "shop/*.csv"}])
    for name in ("events.csv", "tickets-march.csv", "notes.csv"):
        (landing / "shop" / name).write_text(EVENTS)
    assert {f.relative: f.documents for f in discover(spec, landing)} == {
        "shop/events.csv": 1, "shop/notes.csv": 1, "shop/tickets-march.csv": 0}


def test_a_warehouse_from_before_documents_had_sources_is_upgraded(conn):
    conn.execute("create schema raw")
    conn.execute("create table raw.documents (budget_id varchar not null, doc_id varchar not null, doc_ts timestamp "
                 "not null, day date not null, kind varchar not null, segment_id varchar not null, text varchar not null)")
    conn.execute("insert into raw.documents values ('b', 'd1', '2026-03-01', '2026-03-01', 'ticket', 'web', 'hi')")
    conn.execute("create table raw.ingestion_log (budget_id varchar not null, day date, source varchar not null, "
                 "received bigint not null, loaded bigint not null, quarantined bigint not null)")
    conn.execute("insert into raw.ingestion_log values ('b', '2026-03-01', 'f.csv', 1, 1, 0)")
    prepare(conn)
    prepare(conn)  # a second connection finds the columns and adds nothing
    assert conn.execute("select source, source_row from raw.documents").fetchall() == [("", 0)]
    assert conn.execute("select content from raw.ingestion_log").fetchall() == [("events",)]


@pytest.mark.parametrize("documents, message", [
    ({"pattern": "../x/*.csv", "kind": "ticket"}, "pattern must stay inside the landing folder"),
    ({"pattern": "t/*.csv", "kind": "ticket", "kind_column": "type"}, "exactly one of kind"),
    ({"pattern": "t/*.csv"}, "exactly one of kind"),
    ({"pattern": "t/*.csv", "kind": "ticket", "timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"pattern": "t/*.csv", "kind": "ticket", "segments": {"campaign": "c"}}, "must map the top levels without a gap"),
    ({"pattern": "t/*.csv", "kind": "ticket", "segments": {"chanel": "c"}}, "did you mean 'channel'"),
])
def test_bad_document_sources_are_named(documents, message):
    from models.spec import SpecError
    with pytest.raises(SpecError, match=message):
        make_spec(documents=[documents])
