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
import time
from collections.abc import Callable

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.kept_parts import Part, Stored, code_fingerprint, stored_readings, unchanged, write_parts
from assets.settings import Settings
from assets.warehouse import prepare
from models.briefing.payload import FALLBACK_GRAINS
from models.drift.engine import ATTRIBUTION_COLUMNS, BudgetFrames, decompose_budget, default_pairs
from models.fingerprint import Reading, read_frames
from models.projections import next_period
from models.spec import BudgetSpec, load_specs

# |sum of contributions - delta| allowed per decomposition, relative to max(1, |delta|) (float rounding only)
ADDITIVITY_TOLERANCE = 1e-9

ATTRIBUTIONS, INPUTS = "main.drift_attributions", "main.drift_inputs"
_TEXT, _DATE, _NUMBER = "varchar", "date", "double"
ATTRIBUTION_TYPES = {column: _DATE if column in ("period_start", "baseline_start") else _NUMBER if column in (
    "value", "baseline_value", "delta", "contribution", "share_of_delta", "confidence", "delta_z") else _TEXT
    for column in ATTRIBUTION_COLUMNS}


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


def covered_grain(spec: BudgetSpec, latest: Callable[[str], dt.date | None]) -> str:
    """The grain the budget's briefing covers: its reporting grain, or while that has no complete period yet,
    the next finer one that has (the reporting grain when none has)."""
    return next((g for g in FALLBACK_GRAINS[spec.reporting_grain] if latest(g) is not None), spec.reporting_grain)


def drift_grains(spec: BudgetSpec, extra: tuple[str, ...], latest: Callable[[str], dt.date | None]) -> list[str]:
    """The grain the budget's briefing covers (:func:`covered_grain`) plus the configured ones, finest first."""
    covered = covered_grain(spec, latest)
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


def read_inputs(spec: BudgetSpec, grain: str, frames: BudgetFrames) -> Reading:
    """Everything one budget's decompositions at one grain read: the code, the spec and the frames."""
    return read_frames([frames.daily, frames.periods, frames.weights, frames.nodes, frames.text_weights],
                       salt=f"{code_fingerprint(__file__)}\n{grain}\n{spec.model_dump_json()}")


def grain_readers(conn, spec: BudgetSpec, shared: BudgetFrames) -> tuple[Callable[[str], BudgetFrames],
                                                                          Callable[[str], dt.date | None]]:
    """A budget's frames at a grain (:func:`at_grain`) and its latest complete period there, each grain's read
    once and only if asked for."""

    @functools.cache
    def at(grain: str) -> BudgetFrames:
        return at_grain(conn, spec, shared, grain)

    @functools.cache
    def latest(grain: str) -> dt.date | None:
        return latest_complete(at(grain))

    return at, latest


def drift_parts(conn, specs: list[BudgetSpec], extra_grains: tuple[str, ...],
                stored: Stored) -> tuple[list[Part], dict[str, float]]:
    """Every budget's decompositions at each grain it is analysed at, computed unless ``stored`` holds a reading
    of the same inputs. Returns the parts and seconds per budget."""
    parts, seconds = [], {}
    for spec in specs:
        started = time.perf_counter()
        at, latest = grain_readers(conn, spec, load_frames(conn, spec))
        for grain in drift_grains(spec, extra_grains, latest):
            if latest(grain) is None:
                continue
            frames = through_period(at(grain), grain, latest(grain))
            inputs = read_inputs(spec, grain, frames)
            rows = None if unchanged(stored, (spec.id, grain), inputs) else decompose_budget(
                spec, frames, grain, default_pairs(grain, latest(grain)))
            parts.append(Part((spec.id, grain), inputs, rows))
        seconds[spec.id] = round(time.perf_counter() - started, 2)
    return parts, seconds


def drift_rows(conn, specs: list[BudgetSpec], extra_grains: tuple[str, ...]) -> tuple[list[dict], dict[str, float]]:
    """Every decomposition computed afresh (the benchmark's measure of the engine)."""
    parts, seconds = drift_parts(conn, specs, extra_grains, stored={})
    return [row for part in parts for row in part.rows], seconds


@dg.asset(
    name="drift_attributions",
    deps=[dg.AssetKey("metric_values"), dg.AssetKey("dim_segments"), dg.AssetKey("int_node_digests")],
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
                                     stored_readings(conn, ATTRIBUTIONS, INPUTS))
        write_parts(conn, ATTRIBUTIONS, INPUTS, ATTRIBUTION_TYPES, parts)
        frame = conn.execute(f"select * from {ATTRIBUTIONS}").df()
    material = frame[(frame["verdict"] == "material") & (frame["segment_id"] == "_total")]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame),
        "decompositions": int(frame.groupby(["budget_id", "metric_id", "segment_id", "baseline"]).ngroups) if len(frame) else 0,
        "seconds_per_budget": dg.MetadataValue.json(seconds),
        "kept_unchanged": dg.MetadataValue.json([p.name for p in parts if p.rows is None]),
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
