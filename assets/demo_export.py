"""Stream the demo organisation to Parquet landing files (bring-your-own-data shape), with specs.

Memory stays at one day of events whatever the size: each day is a row group
appended to that month's file.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from assets.settings import DEMO_SPECS
from models.demo.generator import ground_truth, iter_days, scale_for_events
from models.spec import load_specs


def _files_source(levels: list[str]) -> dict:
    return {"kind": "files", "pattern": None, "format": "long", "timestamp": "timestamp", "measure": "measure",
            "value": "value", "event_id": "event_id", "segments": {level: level for level in levels}}


def _documents_source(levels: list[str], budget: str) -> dict:
    return {"pattern": f"{budget}/documents/*.parquet", "timestamp": "timestamp", "text": "text",
            "kind_column": "kind", "doc_id": "doc_id", "segments": {level: level for level in levels}}


def _documents_schema(levels: list[str]) -> pa.Schema:
    # fixed: every day appended to a file must have its schema (ParquetWriter refuses another)
    return pa.schema([("doc_id", pa.string()), ("timestamp", pa.timestamp("us")), ("kind", pa.string()),
                      *[(level, pa.string()) for level in levels], ("text", pa.string())])


class _MonthlyFiles:
    """Appends tables to ``folder/<YYYY-MM>.parquet``, one open file at a time."""

    def __init__(self, folder: Path):
        self.folder, self.writer, self.month, self.files = folder, None, None, 0

    def write(self, day: dt.date, table: pa.Table) -> None:
        if day.strftime("%Y-%m") != self.month:
            self.close()
            self.month = day.strftime("%Y-%m")
            self.folder.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.folder / f"{self.month}.parquet", table.schema, compression="zstd")
            self.files += 1
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def export_demo(out: Path, start: dt.date, end: dt.date, *, events: int | None = None, scale: float = 1.0,
                seed: int) -> dict:
    """Write ``out/landing/<budget>/<YYYY-MM>.parquet`` for days ``[start, end)``, the budget's documents
    (ticket bodies, meeting notes, chat) to ``out/landing/<budget>/documents/<YYYY-MM>.parquet``, and
    ``out/specs/*.yaml``.

    ``events`` (a target count) overrides ``scale``. Returns counts and timings.
    """
    began = time.perf_counter()
    specs = [s for s in load_specs(DEMO_SPECS) if s.source.kind == "demo"]
    if events is not None:
        scale = scale_for_events(events, [s.source.scenario for s in specs], start, end)
    landing, spec_dir = out / "landing", out / "specs"
    spec_dir.mkdir(parents=True, exist_ok=True)
    total, documents, files = 0, 0, 0
    for spec in specs:
        levels = list(spec.segments.levels)
        event_files, document_files = _MonthlyFiles(landing / spec.id), _MonthlyFiles(landing / spec.id / "documents")
        for batch in iter_days(spec.source.scenario, start, end, seed, scale):
            event_files.write(batch.day, pa.Table.from_pandas(batch.events, preserve_index=False))
            total += len(batch.events)
            if len(batch.documents):
                docs = batch.documents[["doc_id", "timestamp", "kind", *levels, "text"]]
                document_files.write(batch.day, pa.Table.from_pandas(docs, schema=_documents_schema(levels),
                                                                     preserve_index=False))
                documents += len(docs)
        event_files.close()
        document_files.close()
        files += event_files.files + document_files.files
        document = yaml.safe_load((DEMO_SPECS / f"{spec.id}.yaml").read_text(encoding="utf-8"))
        document["source"] = {**_files_source(levels), "pattern": f"{spec.id}/*.parquet"}
        if document_files.files:
            document["source"]["documents"] = [_documents_source(levels, spec.id)]
        (spec_dir / f"{spec.id}.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (out / "ground_truth.json").write_text(json.dumps(ground_truth(seed, scale), indent=2) + "\n", encoding="utf-8")
    return {"events": total, "documents": documents, "files": files, "landing": str(landing), "specs": str(spec_dir),
            "specs_written": len(specs), "scale": scale, "seconds": time.perf_counter() - began}
