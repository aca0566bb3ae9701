"""dbt wiring: the project handle, a small translator, and the two dbt asset groups.

The hourly and daily digests are partitioned by day (the window goes to dbt as environment variables,
backfills run as one window); downstream, node digests, metric values and rankings rebuild the periods whose
inputs changed (``dbt_project/macros/kept_periods.sql``) and the rest is rebuilt whole.
"""


import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import os
import shutil
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource
from packaging import version

from assets.settings import DBT_PROJECT_DIR, Settings
from orchestration.jobs import RANGE_END, RANGE_START

# the models a daily partition rebuilds by window (the hourly and daily digests, and the staging view they read);
# the models after them are kept by period or rebuilt whole, unpartitioned
PARTITIONED = "tag:daily_partitioned"

# A run builds models and checks their data; the unit tests check SQL logic on fixed inputs, which a run cannot
# change, so they run in the test suite (dbt's advice: "only running unit tests in development or CI"). In a run
# they cost 0.3 s of dbt work a day beyond start-up (four tests, measured at 10M events).
RUN_BUILD = ["build", "--exclude-resource-type", "unit_test"]

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


# Folders dbt writes into the project; everything else there is an input of the manifest.
DBT_OUTPUT_FOLDERS = {"target", "logs", "dbt_packages"}


def manifest_fingerprint(project_dir: Path, environ: Mapping[str, str]) -> str:
    """What ``dbt parse`` reads: the project's files, the dbt packages' versions and the environment the
    profile and models can read (``BUDGETLENS_*``, ``DBT_*``). Same fingerprint, same manifest."""
    digest = hashlib.sha256()
    for package in ("dbt-core", "dbt-duckdb", "dagster-dbt"):
        digest.update(f"{package}=={importlib.metadata.version(package)}\n".encode())
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if path.is_file() and relative.parts[0] not in DBT_OUTPUT_FOLDERS:
            content = path.read_bytes()
            digest.update(f"{relative.as_posix()}\0{len(content)}\0".encode() + content)
    for key in sorted(k for k in environ if k.startswith(("BUDGETLENS_", "DBT_"))):
        digest.update(f"{key}={environ[key]}\n".encode())
    return digest.hexdigest()


def dbt_executable() -> str:
    """The dbt installed beside this Python (works without an activated virtualenv)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


class InstalledDbtCliResource(DbtCliResource):
    """Two things dagster-dbt does before every dbt step that budgetlens never needs:

    - it asks the dbt executable for its version (``dbt --version``: a 3.6 s Python start-up, measured). The
      dbt beside this interpreter is the installed dbt-core package, whose version the package metadata gives
      without a process; any other executable is still asked.
    - it builds a dbt adapter in this process (loading the profile and every macro: 1.1 s for the first step
      of a run, 0.3 s after, measured). The adapter serves only ``fetch_row_counts()`` and
      ``fetch_column_metadata()``, which our dbt assets do not call: they would hold a DuckDB connection
      that blocks every reader of the file.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    return InstalledDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


# raw tables the ingestion asset maintains together: in lineage they are all `raw/events`
INGESTION_TABLES = {"events", "quarantine", "ingestion_log", "ingested_days", "segment_members", "documents",
                    "landing_files"}


class BudgetlensTranslator(DagsterDbtTranslator):
    """Groups by model folder, tags owners and kinds; sources map to the Python asset writing them."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            table = "events" if props["name"] in INGESTION_TABLES else props["name"]
            return spec.replace_attributes(key=dg.AssetKey(["raw", table]))
        folder = props["fqn"][1] if len(props["fqn"]) > 2 else "models"
        group = props["fqn"][2] if folder == "marts" and len(props["fqn"]) > 3 else folder
        return spec.replace_attributes(group_name=group, owners=["team:analytics-engineering"]).merge_attributes(
            kinds={"duckdb"})


translator = BudgetlensTranslator(settings=DagsterDbtTranslatorSettings(
    enable_asset_checks=True, enable_duplicate_source_asset_keys=True))


def step_target_path(context: dg.AssetExecutionContext) -> Path:
    """dbt's artifacts folder for a step, replaced by each run: ``$BUDGETLENS_HOME/dbt/<step>``.

    dagster-dbt's default, a new folder per run and step (~3 MB), grows by ~2 GB a year on a daily
    schedule; runs never overlap on the warehouse (its run lock), so one folder per step is safe. It lives in
    the home, beside the warehouse it describes: dbt re-parses the whole project when its profile (the
    warehouse path) differs from the one its saved parse state was made with, a full parse costing ~3 s
    more than a partial one (measured), so one folder shared by several warehouses re-parsed on every switch.
    """
    return Settings.from_env().home / "dbt" / context.op_execution_context.op.name


@contextlib.contextmanager
def digest_window(start: dt.date, end: dt.date):
    """The days [start, end) the incremental digests rebuild, for the dbt process this step starts.

    Environment variables rather than ``--vars``: dbt parses the whole project again whenever its vars
    change, which a daily window does every run (see ``macros/incremental_window.sql``). dagster-dbt's
    ``cli`` hands dbt this process's environment, so the window is set around the call and removed after.
    """
    names = {"BUDGETLENS_WINDOW_START": start.isoformat(), "BUDGETLENS_WINDOW_END": end.isoformat()}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


PARTITION_TAG = "dagster/partition"  # a run of one partition (a range run has RANGE_START and RANGE_END)


def run_days(tags: Mapping[str, str]) -> tuple[dt.date, dt.date] | None:
    """The days ``[start, end)`` a run's daily partitions cover, from its tags; None for a run of no partition
    (an unpartitioned asset materialised alone: every day is its window)."""
    try:
        if RANGE_START in tags and RANGE_END in tags:
            first, last = dt.date.fromisoformat(tags[RANGE_START]), dt.date.fromisoformat(tags[RANGE_END])
        elif PARTITION_TAG in tags:
            first = last = dt.date.fromisoformat(tags[PARTITION_TAG])
        else:
            return None
    except ValueError:  # not a day's key: no window to narrow to
        return None
    return first, last + dt.timedelta(days=1)


def build_dbt_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The partitioned (incremental digests) and unpartitioned (everything else) dbt assets."""

    @dbt_assets(manifest=dbt_project.manifest_path, select=PARTITIONED, name="dbt_digests",
                partitions_def=partitions_def, backfill_policy=dg.BackfillPolicy.single_run(),
                dagster_dbt_translator=translator, project=dbt_project, pool="duckdb")
    def dbt_digests(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource):
        # `duckdb` is not queried here: requiring it holds the warehouse's run lock while dbt writes the file
        window = context.partition_time_window
        with digest_window(window.start.date(), window.end.date()):
            yield from dbt.cli(RUN_BUILD, context=context, target_path=step_target_path(context)).stream()

    @dbt_assets(manifest=dbt_project.manifest_path, exclude=PARTITIONED, name="dbt_metrics",
                dagster_dbt_translator=translator, project=dbt_project, pool="duckdb")
    def dbt_metrics(context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: DuckDBResource):
        # `duckdb` is not queried here: requiring it holds the warehouse's run lock while dbt writes the file
        # No fetch_row_counts(): it keeps a DuckDB connection open in this process, which then
        # refuses any read-only connection to the same file (the CLI report, analysts, tests).
        # The run's days narrow the checks against raw events to the months they touch (a day's run read
        # all 10M events for the monthly rollup's check: 0.24 s); a run of no partition checks every month.
        days = run_days(context.run.tags)
        with digest_window(*days) if days else contextlib.nullcontext():
            yield from dbt.cli(RUN_BUILD, context=context, target_path=step_target_path(context)).stream()

    return [dbt_digests, dbt_metrics]
