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


def export_demo(out: Path, start: dt.date, end: dt.date, *, events: int | None = None, scale: float = 1.0,
                seed: int) -> dict:
    """Write ``out/landing/<budget>/<YYYY-MM>.parquet`` for days ``[start, end)`` and ``out/specs/*.yaml``.

    ``events`` (a target count) overrides ``scale``. Returns counts and timings.
    """
    began = time.perf_counter()
    specs = [s for s in load_specs(DEMO_SPECS) if s.source.kind == "demo"]
    if events is not None:
        scale = scale_for_events(events, [s.source.scenario for s in specs], start, end)
    landing, spec_dir = out / "landing", out / "specs"
    spec_dir.mkdir(parents=True, exist_ok=True)
    total, files = 0, 0
    for spec in specs:
        folder = landing / spec.id
        folder.mkdir(parents=True, exist_ok=True)
        writer, month = None, None
        for batch in iter_days(spec.source.scenario, start, end, seed, scale):
            table = pa.Table.from_pandas(batch.events, preserve_index=False)
            if batch.day.strftime("%Y-%m") != month:
                if writer is not None:
                    writer.close()
                month = batch.day.strftime("%Y-%m")
                writer = pq.ParquetWriter(folder / f"{month}.parquet", table.schema, compression="zstd")
                files += 1
            writer.write_table(table)
            total += table.num_rows
        if writer is not None:
            writer.close()
        document = yaml.safe_load((DEMO_SPECS / f"{spec.id}.yaml").read_text(encoding="utf-8"))
        document["source"] = {**_files_source(list(spec.segments.levels)), "pattern": f"{spec.id}/*.parquet"}
        (spec_dir / f"{spec.id}.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (out / "ground_truth.json").write_text(json.dumps(ground_truth(seed, scale), indent=2) + "\n", encoding="utf-8")
    return {"events": total, "files": files, "landing": str(landing), "specs": str(spec_dir),
            "specs_written": len(specs), "scale": scale, "seconds": time.perf_counter() - began}
