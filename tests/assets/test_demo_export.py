"""`budgetlens demo generate`: streamed Parquet landing files + specs ingest to the same events as the generator."""

import datetime as dt
import json

import pyarrow.parquet as pq

from assets.demo_export import export_demo
from assets.ingestion import ingest_window
from models.spec import load_specs
from tests.assets.conftest import HISTORY_START

START, END = dt.date(2026, 1, 30), dt.date(2026, 2, 2)  # crosses a month: two files per budget


def test_export_streams_day_row_groups_and_ingests_identically(tmp_path, conn):
    summary = export_demo(tmp_path, START, END, scale=0.05, seed=11)
    landing = tmp_path / "landing"
    event_files, document_files = list(landing.glob("*/*.parquet")), list(landing.glob("*/documents/*.parquet"))
    assert summary["specs_written"] == 3 and len(event_files) == 6  # two months of events per budget
    assert summary["files"] == len(event_files) + len(document_files) and summary["documents"] > 0
    budget_file = tmp_path / "landing" / "marketing_acquisition" / "2026-01.parquet"
    assert pq.ParquetFile(budget_file).num_row_groups == 2  # one row group per day: one day in memory at a time
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert truth["seed"] == 11 and truth["phenomena"]

    file_specs = {s.id: s for s in load_specs(tmp_path / "specs")}
    assert all(s.source.kind == "files" for s in file_specs.values())
    loaded, documents = 0, 0
    for spec in file_specs.values():
        report = ingest_window(conn, spec, START, END, landing_dir=tmp_path / "landing",
                               history_start=HISTORY_START, seed=11, scale=0.05)
        assert report.quarantined == 0 and report.documents_quarantined == 0
        loaded, documents = loaded + report.loaded, documents + report.documents
    assert (loaded, documents) == (summary["events"], summary["documents"])
    events = "select budget_id, event_id, event_ts, measure, value, segment_id from raw.events order by all"
    texts = "select budget_id, doc_id, doc_ts, day, kind, segment_id, text from raw.documents order by all"
    from_files = conn.execute(events).fetchall(), conn.execute(texts).fetchall()

    conn.execute("delete from raw.events")
    conn.execute("delete from raw.documents")
    from assets.settings import DEMO_SPECS
    for spec in load_specs(DEMO_SPECS):
        ingest_window(conn, spec, START, END, landing_dir=tmp_path, history_start=HISTORY_START, seed=11, scale=0.05)
    from_generator = conn.execute(events).fetchall(), conn.execute(texts).fetchall()
    assert from_files == from_generator


def test_target_event_count_sets_the_scale(tmp_path):
    summary = export_demo(tmp_path, START, END, events=20_000, seed=11)
    assert 18_000 < summary["events"] < 22_000
