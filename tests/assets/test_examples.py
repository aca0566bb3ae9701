"""The shipped examples: their specs validate and every row their generators write is loaded or quarantined."""

import datetime as dt
import importlib.util
from pathlib import Path

import duckdb

from assets.briefing_assets import top_quarantine_reasons
from assets.ingestion import ingest_window
from assets.warehouse import prepare
from models.spec import load_specs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def generator(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ingest(name: str, tmp_path: Path, end: dt.date):
    (spec,) = load_specs(EXAMPLES / name / "specs")
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    prepare(conn)
    report = ingest_window(conn, spec, dt.date(2026, 6, 1), end, landing_dir=tmp_path / "landing",
                           history_start=dt.date(2026, 6, 1), seed=0, scale=1.0)
    return report, dict(top_quarantine_reasons(conn, spec.id, limit=20))


def test_cloud_costs_files_load_whole(tmp_path):
    written = generator("cloud_costs").write(tmp_path / "landing")
    report, reasons = ingest("cloud_costs", tmp_path, dt.date(2026, 10, 30))  # New York evenings end on UTC days
    assert (report.received, report.loaded, report.quarantined, reasons) == (written, written, 0, {})


def test_support_desk_bad_rows_are_quarantined_with_their_reasons(tmp_path):
    generator("support_desk").write(tmp_path / "landing")
    report, reasons = ingest("support_desk", tmp_path, dt.date(2026, 10, 19))
    assert report.received == report.loaded + report.quarantined and report.documents > 1000
    assert report.documents_quarantined == 1 and reasons["duplicate of document"] == 1
    assert reasons["timestamp not parseable"] == 3  # one row, three measures
    assert reasons["value above maximum 1440.0 of measure handle_minutes"] == 1
    assert reasons["duplicate of event"] == 3  # the ticket row sent twice: ticket, minutes, resolved
    assert len(reasons) == 4
