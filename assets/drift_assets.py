"""Diagnostic stage: every metric's change at every scope decomposed into the five factors.

A decomposition reads the data as they stood at its period's end (:func:`through_period`), so it only changes
when those data, the spec or the code do. A reading of each budget and grain's inputs is stored
(``main.drift_inputs``); a run whose inputs read the same (up to the rounding of sums, :mod:`models.fingerprint`)
keeps that budget and grain's rows instead of decomposing again: a daily run under a monthly briefing
re-explains the month only when the month's own figures moved (a late posting), not every day.
"""

import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.metadata
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

import models
from assets.settings import Settings
from assets.warehouse import column_definitions, prepare, replace_table, table_exists, transaction
from models.briefing.payload import FALLBACK_GRAINS
from models.drift.engine import ATTRIBUTION_COLUMNS, BudgetFrames, decompose_budget, default_pairs
from models.fingerprint import Reading, read_frames, same_reading
from models.projections import next_period
from models.spec import BudgetSpec, load_specs

# |sum of contributions - delta| allowed per decomposition, relative to max(1, |delta|) (float rounding only)
ADDITIVITY_TOLERANCE = 1e-9

ATTRIBUTIONS, INPUTS = "main.drift_attributions", "main.drift_inputs"
_TEXT, _DATE, _NUMBER = "varchar", "date", "double"
ATTRIBUTION_TYPES = {column: _DATE if column in ("period_start", "baseline_start") else _NUMBER if column in (
    "value", "baseline_value", "delta", "contribution", "share_of_delta", "confidence", "delta_z") else _TEXT
    for column in ATTRIBUTION_COLUMNS}
# what the decompositions' results depend on besides the data and the spec
LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "holidays")


def load_frames(conn, spec: BudgetSpec) -> BudgetFrames:
    """The engine's grain-independent inputs for one budget (``periods`` left empty; see :func:`at_grain`)."""
    daily = conn.execute(
        "select metric_id, segment_id, period_start, value from main.metric_values "
        "where budget_id = ? and grain = 'day' and is_complete and value is not null "
        "and metric_kind <> 'system'", [spec.id]).df()  # the LLM ledger's days run past the data
    mean_measures = sorted({m.measure for m in spec.metrics.values() if m.agg == "mean"})
    weights = conn.execute(
        "select measure, segment_id, period_start, event_count as weight from main.int_node_digests "
        "where budget_id = ? and grain = 'day' and list_contains(?, measure)", [spec.id, mean_measures]).df()
    nodes = conn.execute(
        "select segment_level, segment_id, node_value, parent_id from main.dim_segments where budget_id = ?",
        [spec.id]).df()
    text_weights = conn.execute(
        "select metric_id, grain, segment_id, period_start, documents_used as weight from raw.text_metric_values "
        "where budget_id = ? and value is not null", [spec.id]).df()
    return BudgetFrames(daily=daily, periods=pd.DataFrame(), weights=weights, nodes=nodes, text_weights=text_weights)


def at_grain(conn, spec: BudgetSpec, frames: BudgetFrames, grain: str) -> BudgetFrames:
    periods = conn.execute(
        "select metric_id, segment_id, period_start, value, is_complete from main.metric_values "
        "where budget_id = ? and grain = ? and metric_kind <> 'system'", [spec.id, grain]).df()
    return dataclasses.replace(frames, periods=periods)


def latest_complete(frames: BudgetFrames):
    total = frames.periods[(frames.periods["segment_id"] == "_total") & frames.periods["is_complete"].astype(bool)]
    return pd.to_datetime(total["period_start"]).max().date() if len(total) else None


def drift_grains(spec: BudgetSpec, extra: tuple[str, ...], latest: Callable[[str], dt.date | None]) -> list[str]:
    """The grain the budget's briefing covers (its reporting grain, or while that has no complete period yet,
    the next finer one that has) plus the configured ones, finest first."""
    covered = next((g for g in FALLBACK_GRAINS[spec.reporting_grain] if latest(g) is not None), spec.reporting_grain)
    return [g for g in ("day", "week", "month") if g == covered or g in extra]


def through_period(frames: BudgetFrames, grain: str, latest: dt.date) -> BudgetFrames:
    """The frames as they stood when the period starting ``latest`` ended: nothing after it, and only this
    grain's text weights. (The decompositions read nothing later; cut here, their inputs' reading says so too.)"""
    end = pd.Timestamp(next_period(grain, latest, 1))

    def before_end(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[pd.to_datetime(frame["period_start"]) < end].reset_index(drop=True)

    text = frames.text_weights[frames.text_weights["grain"] == grain]
    return dataclasses.replace(frames, daily=before_end(frames.daily), periods=before_end(frames.periods),
                               weights=before_end(frames.weights), text_weights=before_end(text))


@functools.cache
def code_fingerprint() -> str:
    """The decompositions' code: every pure model's source, this module's, and the numeric libraries'
    versions. Any change to them makes every stored decomposition stale."""
    digest, root = hashlib.sha256(), Path(models.__file__).parent.parent
    for path in sorted(root.joinpath("models").rglob("*.py")) + [Path(__file__)]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}=={importlib.metadata.version(library)}\n".encode())
    return digest.hexdigest()


def read_inputs(spec: BudgetSpec, grain: str, frames: BudgetFrames) -> Reading:
    """Everything one budget's decompositions at one grain read: the code, the spec and the frames."""
    return read_frames([frames.daily, frames.periods, frames.weights, frames.nodes, frames.text_weights],
                       salt=f"{code_fingerprint()}\n{grain}\n{spec.model_dump_json()}")


@dataclass
class DriftPart:
    """One budget's decompositions at one grain: computed now (``rows``), or kept from the stored table
    (``rows`` is None) because they were computed from the same inputs."""

    budget_id: str
    grain: str
    inputs: Reading
    rows: list[dict] | None


Stored = dict[tuple[str, str], tuple[str, list[float]]]  # (budget, grain) -> the stored reading's digest, values


def drift_parts(conn, specs: list[BudgetSpec], extra_grains: tuple[str, ...],
                stored: Stored) -> tuple[list[DriftPart], dict[str, float]]:
    """Every budget's decompositions at each grain it is analysed at, computed unless ``stored`` holds a reading
    of the same inputs. Returns the parts and seconds per budget."""
    parts, seconds = [], {}
    for spec in specs:
        started = time.perf_counter()
        shared = load_frames(conn, spec)

        @functools.cache  # each grain's values read once, and only if asked for
        def at(grain: str) -> BudgetFrames:
            return at_grain(conn, spec, shared, grain)

        @functools.cache
        def latest(grain: str) -> dt.date | None:
            return latest_complete(at(grain))

        for grain in drift_grains(spec, extra_grains, latest):
            if latest(grain) is None:
                continue
            frames = through_period(at(grain), grain, latest(grain))
            inputs = read_inputs(spec, grain, frames)
            previous = stored.get((spec.id, grain))
            rows = None if previous and same_reading(*previous, inputs) else decompose_budget(
                spec, frames, grain, default_pairs(grain, latest(grain)))
            parts.append(DriftPart(spec.id, grain, inputs, rows))
        seconds[spec.id] = round(time.perf_counter() - started, 2)
    return parts, seconds


def drift_rows(conn, specs: list[BudgetSpec], extra_grains: tuple[str, ...]) -> tuple[list[dict], dict[str, float]]:
    """Every decomposition computed afresh (the benchmark's measure of the engine)."""
    parts, seconds = drift_parts(conn, specs, extra_grains, stored={})
    return [row for part in parts for row in part.rows], seconds


def stored_inputs(conn) -> Stored:
    """The readings of the inputs of the decompositions in the warehouse (none before the first run)."""
    if not all(table_exists(conn, *table.split(".")) for table in (ATTRIBUTIONS, INPUTS)):
        return {}
    return {(b, g): (d, v) for b, g, d, v in conn.execute(
        f"select budget_id, grain, digest, input_values from {INPUTS}").fetchall()}


def write_parts(conn, parts: list[DriftPart]) -> None:
    """The attributions table as the parts say, in their order, in one transaction with their inputs' readings:
    kept parts' rows copied from the table as they are (same types, same order), computed parts' rows new."""
    computed = [pd.DataFrame(p.rows, columns=ATTRIBUTION_COLUMNS).assign(_part=i, _row=range(len(p.rows)))
                for i, p in enumerate(parts) if p.rows is not None]
    fresh = pd.concat(computed, ignore_index=True) if computed else pd.DataFrame(
        columns=[*ATTRIBUTION_COLUMNS, "_part", "_row"])
    kept = pd.DataFrame([(i, p.budget_id, p.grain) for i, p in enumerate(parts) if p.rows is None],
                        columns=["_part", "budget_id", "grain"])
    conn.register("_fresh", fresh)
    conn.register("_kept", kept)
    try:
        with transaction(conn):
            conn.execute(f"create or replace temp table _drift_next ({column_definitions(ATTRIBUTION_TYPES)}, "
                         "_part integer, _row bigint)")
            if len(kept):
                conn.execute("insert into _drift_next by name select a.*, k._part, a.rowid as _row "
                             f"from {ATTRIBUTIONS} as a join _kept as k "
                             "on a.budget_id = k.budget_id and a.grain = k.grain")
            conn.execute("insert into _drift_next by name select * from _fresh")
            conn.execute(f"create or replace table {ATTRIBUTIONS} as "
                         "select * exclude (_part, _row) from _drift_next order by _part, _row")
            readings = pd.DataFrame([(p.budget_id, p.grain, p.inputs.digest, p.inputs.values) for p in parts],
                                    columns=["budget_id", "grain", "digest", "input_values"])
            replace_table(conn, INPUTS, readings,
                          types={"budget_id": _TEXT, "grain": _TEXT, "digest": _TEXT, "input_values": "double[]"})
            conn.execute("drop table _drift_next")
    finally:
        conn.unregister("_fresh")
        conn.unregister("_kept")


@dg.asset(
    name="drift_attributions",
    deps=[dg.AssetKey("metric_values"), dg.AssetKey("dim_segments")],
    kinds={"python", "statsmodels", "duckdb"},
    owners=["team:analytics"],
    group_name="diagnostic",
    pool="duckdb",
    description="Why each metric changed: for every metric, every segment scope and the latest complete period "
                "(reporting grain, plus BUDGETLENS_DRIFT_GRAINS) against the previous one and the same period a year before, the change split "
                "into temporal variance, event shocks, influence drift, dimension drift, component drift and a "
                "residual, each with its driver, evidence and the change's materiality (main.drift_attributions).",
)
def drift_attributions(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    with duckdb.get_connection() as conn:
        prepare(conn)
        parts, seconds = drift_parts(conn, load_specs(settings.specs_dir), settings.drift_grains,
                                     stored_inputs(conn))
        write_parts(conn, parts)
        frame = conn.execute(f"select * from {ATTRIBUTIONS}").df()
    material = frame[(frame["verdict"] == "material") & (frame["segment_id"] == "_total")]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame),
        "decompositions": int(frame.groupby(["budget_id", "metric_id", "segment_id", "baseline"]).ngroups) if len(frame) else 0,
        "seconds_per_budget": dg.MetadataValue.json(seconds),
        "kept_unchanged": dg.MetadataValue.json([f"{p.budget_id}/{p.grain}" for p in parts if p.rows is None]),
        "material_changes_at_total": dg.MetadataValue.md(
            material.drop_duplicates(["budget_id", "metric_id", "baseline"])[
                ["budget_id", "metric_id", "baseline", "delta", "delta_z"]].round(3).to_markdown(index=False)
            if len(material) else "none"),
    })


@dg.asset_check(asset="drift_attributions", description="Every decomposition's contributions add up to its change.")
def drift_contributions_add_up(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        broken = conn.execute(f"""
            select budget_id, metric_id, segment_id, baseline, max(delta) as delta, sum(contribution) as total
            from main.drift_attributions
            group by budget_id, metric_id, grain, segment_id, period_start, baseline
            having abs(sum(contribution) - max(delta)) > {ADDITIVITY_TOLERANCE} * greatest(1, abs(max(delta)))
                or count(distinct delta) > 1
            order by 1, 2, 3, 4""").df()
        checked = conn.execute("select count(*) from main.drift_attributions").fetchone()[0]
    return dg.AssetCheckResult(
        passed=broken.empty,
        metadata={"rows_checked": checked, "decompositions_not_adding_up": len(broken),
                  "examples": dg.MetadataValue.md(broken.head(10).to_markdown(index=False) if len(broken) else "none")})
