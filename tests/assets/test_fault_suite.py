"""Nothing lost under bad input: every case is one landing file; for each, received = loaded + quarantined,
every quarantined row has a reason, and a file that cannot be read is one quarantine entry naming it."""

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.ingestion import ingest_window
from tests.assets.conftest import HISTORY_START, make_spec
from tests.assets.test_ingestion import MARCH_1, MARCH_3

HEADER = "id,timestamp,measure,value,channel,campaign\n"
GOOD = "{i},2026-03-01 10:{m:02d}:00,visit,1,web,spring\n"


def csv(rows: str, encoding: str = "utf-8") -> bytes:
    return (HEADER + rows).encode(encoding)


def parquet(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def corrupt_column(content: bytes, column: str) -> bytes:
    """``content`` (a Parquet file) with one column's pages overwritten: the footer and other columns still read."""
    chunk = pq.ParquetFile(io.BytesIO(content)).metadata.row_group(0).column(GOOD_FRAME.columns.get_loc(column))
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    return content[:start] + b"\xab" * chunk.total_compressed_size + content[start + chunk.total_compressed_size:]


GOOD_FRAME = pd.DataFrame({"id": [f"p{i}" for i in range(50)], "timestamp": ["2026-03-01 11:00:00"] * 50,
                           "measure": ["visit"] * 50, "value": [1.0] * 50, "channel": ["web"] * 50,
                           "campaign": ["spring"] * 50})

CASES = {
    "latin-1 bytes": ("a.csv", csv("x1,2026-03-01 08:00:00,visit,1,caf\xe9,a\n", "latin-1")),
    "utf-16 with BOM": ("b.csv", csv("x1,2026-03-01 08:00:00,visit,1,web,a\n", "utf-16")),
    "utf-16 big-endian": ("b2.csv", b"\xfe\xff" + csv("x1,2026-03-01 08:00:00,visit,1,web,a\n", "utf-16-be")),
    "truncated parquet": ("c.parquet", parquet(GOOD_FRAME)[:-200]),
    "parquet with a corrupt column": ("c2.parquet", corrupt_column(parquet(GOOD_FRAME), "value")),
    "value not numeric": ("d.csv", csv("x1,2026-03-01 08:00:00,visit,one,web,a\nx2,2026-03-01 08:01:00,visit,1,web,a\n")),
    "parquet with a text value column": ("e.parquet", parquet(GOOD_FRAME.assign(value=["1"] * 49 + ["lots"]))),
    "missing column": ("f.csv", b"id,timestamp,measure,channel,campaign\nx1,2026-03-01 08:00:00,visit,web,a\n"),
    "extra columns": ("g.csv", b"id,timestamp,measure,value,channel,campaign,colour\nx1,2026-03-01 08:00:00,visit,1,web,a,red\n"),
    "NaN, inf and negative values": ("h.csv", csv("x1,2026-03-01 08:00:00,order_value,NaN,web,a\n"
                                                 "x2,2026-03-01 08:00:00,order_value,inf,web,a\n"
                                                 "x3,2026-03-01 08:00:00,order_value,-1,web,a\n"
                                                 "x4,2026-03-01 08:00:00,order_value,2.5,web,a\n")),
    "timestamps out of range and mixed zones": ("i.csv", csv("x1,1999-03-01 08:00:00,visit,1,web,a\n"
                                                            "x2,2026-03-01 08:00:00+05:00,visit,1,web,a\n"
                                                            "x3,2026-03-01 08:00:00Z,visit,1,web,a\n"
                                                            "x4,2026-03-01T08:00:00-03:00,visit,1,web,a\n"
                                                            "x5,3026-03-01 08:00:00,visit,1,web,a\n")),
    "duplicate rows": ("j.csv", csv("x1,2026-03-01 08:00:00,visit,1,web,a\n" * 3)),
    "very long strings": ("k.csv", csv(f"x1,2026-03-01 08:00:00,visit,1,{'w' * 100_000},a\n"
                                       "x2,2026-03-01 08:00:00,visit,1,web,a\n")),
    "empty file": ("l.csv", b""),
    "header only": ("m.csv", HEADER.encode()),
    "ragged rows": ("n.csv", csv("x1,2026-03-01 08:00:00,visit\nx2,2026-03-01 08:00:00,visit,1,web,a,extra\n"
                                 "x3,2026-03-01 08:00:00,visit,1,web,a,\nx4,2026-03-01 08:00:00,visit,1,web,b\n")),
}

# (received, loaded, quarantined) per case: an unreadable or empty file is one entry naming it
EXPECTED = {
    "NaN, inf and negative values": (4, 1, 3), "duplicate rows": (3, 1, 2), "empty file": (1, 0, 1),
    "extra columns": (1, 1, 0), "header only": (0, 0, 0), "latin-1 bytes": (1, 0, 1), "missing column": (1, 0, 1),
    "parquet with a text value column": (50, 49, 1), "ragged rows": (4, 2, 2),
    "timestamps out of range and mixed zones": (5, 3, 2), "truncated parquet": (1, 0, 1), "utf-16 with BOM": (1, 1, 0),
    "utf-16 big-endian": (1, 0, 1), "parquet with a corrupt column": (1, 0, 1),
    "value not numeric": (2, 1, 1), "very long strings": (2, 1, 1),
}


def ingest_case(folder, conn, case: str, **source):
    """Land the case's file alone under ``folder`` and ingest the window; the report and the file's source name."""
    name, content = CASES[case]
    landing = folder / "landing"
    (landing / "shop").mkdir(parents=True)
    (landing / "shop" / name).write_bytes(content)
    report = ingest_window(conn, make_spec(pattern="shop/*", **source), MARCH_1, MARCH_3, landing_dir=landing,
                           history_start=HISTORY_START, seed=1, scale=1.0)
    return report, f"shop/{name}"


def ledger(conn, content: str, source: str) -> tuple[int, int, int, int, int]:
    """Received, loaded and quarantined as logged for ``content`` (no rows at all: no log line, zeros), and the
    source's quarantine rows: all of them, and those without a reason."""
    log = conn.execute("select sum(received), sum(loaded), sum(quarantined) from raw.ingestion_log "
                       "where content = ?", [content]).fetchone()
    quarantined = conn.execute("select count(*), count(*) filter (where reason is null or reason = '') "
                               "from raw.quarantine where source = ?", [source]).fetchone()
    return (*(int(v or 0) for v in log), *quarantined)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_row_is_loaded_or_quarantined_with_a_reason(tmp_path, conn, case):
    report, source = ingest_case(tmp_path, conn, case)
    assert report.received == report.loaded + report.quarantined, case
    assert (report.received, report.loaded, report.quarantined) == EXPECTED[case]
    received, loaded, rejected, quarantined, without_reason = ledger(conn, "events", source)
    events = conn.execute("select count(*) from raw.events").fetchone()[0]
    assert received == loaded + rejected and loaded == events and rejected == quarantined, case
    assert without_reason == 0, case


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_document_row_is_loaded_or_quarantined_with_a_reason(tmp_path, conn, case):
    """The same files read as documents (the measure column as the text): the same ledger holds."""
    report, source = ingest_case(tmp_path, conn, case, documents=[
        {"pattern": "shop/*", "text": "measure", "kind": "ticket", "doc_id": "id"}])
    assert report.received == report.loaded == report.quarantined == 0, case  # the file holds documents only
    received, loaded, rejected, quarantined, without_reason = ledger(conn, "documents", source)
    documents = conn.execute("select count(*) from raw.documents").fetchone()[0]
    assert received == EXPECTED[case][0], case
    assert received == loaded + rejected and loaded == documents == report.documents, case
    assert rejected == quarantined == report.documents_quarantined and without_reason == 0, case


def test_a_file_dropped_twice_loads_once(tmp_path, conn):
    landing = tmp_path / "landing"
    (landing / "shop").mkdir(parents=True)
    rows = csv("".join(GOOD.format(i=f"x{i}", m=i) for i in range(10)))
    (landing / "shop" / "monday.csv").write_bytes(rows)
    (landing / "shop" / "monday (copy).csv").write_bytes(rows)
    report = ingest_window(conn, make_spec(pattern="shop/*"), MARCH_1, MARCH_3, landing_dir=landing,
                           history_start=HISTORY_START, seed=1, scale=1.0)
    assert (report.received, report.loaded, report.quarantined) == (20, 10, 10)
    reasons = {r[0] for r in conn.execute("select regexp_replace(reason, ' x[0-9]+$', '') from raw.quarantine").fetchall()}
    assert reasons == {"duplicate of event"}


def test_a_corrupt_parquet_file_among_good_ones_is_the_only_one_refused(tmp_path, conn):
    """Files of the same columns are read together; one that cannot be decoded is found and refused alone."""
    landing = tmp_path / "landing"
    (landing / "shop").mkdir(parents=True)
    for name in ("a", "b", "c"):
        frame = GOOD_FRAME.assign(id=[f"{name}{i}" for i in range(50)])
        content = parquet(frame)
        (landing / "shop" / f"{name}.parquet").write_bytes(corrupt_column(content, "value") if name == "b" else content)
    report = ingest_window(conn, make_spec(pattern="shop/*"), MARCH_1, MARCH_3, landing_dir=landing,
                           history_start=HISTORY_START, seed=1, scale=1.0)
    assert (report.received, report.loaded, report.quarantined) == (101, 100, 1)
    assert conn.execute("select source, source_row, reason like 'unreadable file: shop/b.parquet: %' "
                        "from raw.quarantine").fetchall() == [("shop/b.parquet", 0, True)]


def test_names_from_data_and_specs_cannot_inject_sql(tmp_path, conn):
    from models.spec import SpecError, parse_spec
    from tests.assets.conftest import SPEC

    landing = tmp_path / "landing"
    (landing / "shop").mkdir(parents=True)
    evil = "web'); drop table raw.events; --"
    (landing / "shop" / "a.csv").write_bytes(csv(f'x1,2026-03-01 08:00:00,visit,1,"{evil}",a\n'
                                                 f'x2,2026-03-01 08:00:00,"visit\'; delete from raw.events; --",1,web,a\n'))
    report = ingest_window(conn, make_spec(pattern="shop/*"), MARCH_1, MARCH_3, landing_dir=landing,
                           history_start=HISTORY_START, seed=1, scale=1.0)
    assert (report.loaded, report.quarantined) == (1, 1)
    assert conn.execute("select segment_id from raw.events").fetchone()[0] == f"{evil}/a"  # stored verbatim
    assert conn.execute("select reason from raw.quarantine").fetchone()[0].startswith("unknown measure")
    bad = {**SPEC, "metrics": {**SPEC["metrics"], 'x"; drop table raw.events; --': {
        "measure": "visit", "agg": "count", "step": "traffic"}}}
    with pytest.raises(SpecError, match="shop.yaml: metrics"):
        parse_spec(bad, "shop.yaml")


def test_no_row_is_lost_across_the_suite(tmp_path):
    """The suite's totals (``pytest -s -k no_row_is_lost`` prints the table the scale issue reports)."""
    import duckdb

    lines, totals = ["| case | received | loaded | quarantined | lost |", "|---|---|---|---|---|"], [0, 0, 0]
    for i, case in enumerate(sorted(CASES)):
        (tmp_path / f"case{i}").mkdir()
        with duckdb.connect(str(tmp_path / f"case{i}" / "w.duckdb")) as conn:
            r, _ = ingest_case(tmp_path / f"case{i}", conn, case)
        totals = [totals[0] + r.received, totals[1] + r.loaded, totals[2] + r.quarantined]
        lines.append(f"| {case} | {r.received} | {r.loaded} | {r.quarantined} | {r.received - r.loaded - r.quarantined} |")
    lines.append(f"| {len(CASES)} cases | {totals[0]} | {totals[1]} | {totals[2]} | {totals[0] - totals[1] - totals[2]} |")
    print("\n" + "\n".join(lines))
    assert totals[0] == totals[1] + totals[2] and totals[0] > 0


def test_long_rows_and_big_endian_text_are_quarantined_with_their_reason(tmp_path, conn):
    landing = tmp_path / "landing"
    (landing / "shop").mkdir(parents=True)
    for case in ("ragged rows", "utf-16 big-endian", "utf-16 with BOM"):
        name, content = CASES[case]
        (landing / "shop" / name).write_bytes(content)
    ingest_window(conn, make_spec(pattern="shop/*"), MARCH_1, MARCH_3, landing_dir=landing,
                  history_start=HISTORY_START, seed=1, scale=1.0)
    rows = conn.execute("select source, source_row, reason, record from raw.quarantine order by 1, 2").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("shop/b2.csv", 0, "unreadable file: shop/b2.csv: UTF-16 big-endian text is not supported; save the file as UTF-8"),
        ("shop/n.csv", 1, "value missing"),
        ("shop/n.csv", 2, "row has 1 field(s) more than the header (6 columns): its values do not line up with "
                          "the column names")]
    assert '"extra"' in rows[2][3]  # the extra field is kept in the quarantined record
    # the UTF-16 (little-endian, with its mark) file and the row ending in an empty field load
    assert conn.execute("select source, source_row from raw.events order by 1, 2").fetchall() == [
        ("shop/b.csv", 1), ("shop/n.csv", 3), ("shop/n.csv", 4)]


def test_a_header_naming_a_column_like_a_made_up_one_keeps_it(tmp_path, conn):
    landing = tmp_path / "landing"
    (landing / "shop").mkdir(parents=True)
    (landing / "shop" / "a.csv").write_bytes(
        b"id,timestamp,measure,value,channel,campaign,column6\nx1,2026-03-01 08:00:00,visit,1,web,a,note\n")
    report = ingest_window(conn, make_spec(pattern="shop/*"), MARCH_1, MARCH_3, landing_dir=landing,
                           history_start=HISTORY_START, seed=1, scale=1.0)
    assert (report.loaded, report.quarantined) == (1, 0)
