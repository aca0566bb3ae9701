"""The main job, its daily schedule and the landing-folder sensor."""


import datetime as dt
import hashlib
import json

import dagster as dg
import duckdb

from assets.landing import LandingError, day_range, discover
from assets.settings import Settings
from models.spec import SpecError, load_specs

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"

budgetlens_job = dg.define_asset_job(
    "budgetlens",
    selection=dg.AssetSelection.all(),
    description="The whole pipeline: ingestion -> dbt digests -> metric values and tree -> retention -> briefings.",
)

daily_schedule = dg.build_schedule_from_partitioned_job(
    budgetlens_job, hour_of_day=2, minute_of_hour=15, name="budgetlens_daily",
    description="Every day at 02:15 UTC: yesterday's partition, then everything downstream.",
)


def range_tags(start: dt.date, end_inclusive: dt.date) -> dict[str, str]:
    """Run tags that make one run cover a range of daily partitions (single-run backfill)."""
    return {RANGE_START: start.isoformat(), RANGE_END: end_inclusive.isoformat()}


@dg.sensor(job=budgetlens_job, minimum_interval_seconds=60,
           description="Starts a run for the days covered by new or changed landing files (late files included).")
def landing_files_sensor(context: dg.SensorEvaluationContext):
    settings = Settings.from_env()
    try:
        specs = load_specs(settings.specs_dir)
    except SpecError as err:
        return dg.SkipReason(f"specs invalid: {err}")
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    changed_days: list[dt.date] = []
    current: dict[str, str] = {}
    conn = duckdb.connect()  # in-memory: reading a file needs no lock on the warehouse
    for spec in specs:
        try:
            files = discover(spec, settings.landing_dir)
        except LandingError as err:
            conn.close()
            return dg.SkipReason(f"refused landing folder: {err}")
        for file in files:
            key = f"{spec.id}:{file.relative}"
            current[key] = file.fingerprint
            if seen.get(key) == file.fingerprint:
                continue
            try:
                first, last, _ = day_range(conn, file, spec)
            except (duckdb.Error, LandingError):
                first = last = None  # unreadable: the next run records it in quarantine
            if first is None:
                first = last = dt.date.today() - dt.timedelta(days=1)
            changed_days += [max(first, settings.history_start), max(last, settings.history_start)]
    conn.close()
    if not changed_days:
        return dg.SkipReason("no new or changed landing files")
    start, end = min(changed_days), min(max(changed_days), dt.date.today() - dt.timedelta(days=1))
    context.update_cursor(json.dumps(current, sort_keys=True))
    if end < start:
        return dg.SkipReason(f"landing files only cover days without a partition yet ({start})")
    state = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=f"landing-{start}-{end}-{state}", tags=range_tags(start, end))
