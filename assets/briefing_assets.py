"""The final asset: one briefing per budget (Markdown + the JSON payload it was written from)."""


import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.briefing_writer import WriterOutcome, write_offline, write_with_llm
from assets.charts import fan_chart, waterfall_chart
from assets.forecast_assets import daily_events, daily_members, recent_leaf_days
from assets.llm import AnthropicLLM, LlmLedger
from assets.settings import Settings
from assets.warehouse import prepare, table_exists, transaction
from models.briefing.gaps import RECENT_DAYS, STOPPED_WITHIN_DAYS, USUAL_DAYS
from models.briefing.payload import BriefingInputs, briefing_grain, build_payload, latest_complete_period
from models.briefing.template import render_markdown
from models.projections import next_period
from models.spec import BudgetSpec, load_specs

BRIEFINGS_DDL = """
create table if not exists main.briefings (
    budget_id varchar not null,
    period_grain varchar not null,
    period_start date,
    writer varchar not null,
    model varchar,
    fallback_reason varchar,
    attempts integer,
    input_tokens bigint,
    output_tokens bigint,
    cache_read_input_tokens bigint,
    cost_usd double,
    grounded_ratio double,
    ungrounded_numbers varchar,
    markdown_path varchar not null,
    payload_path varchar not null,
    payload_sha256 varchar not null
)
"""
# columns added after the first release: older warehouses gain them in place
BRIEFINGS_MIGRATIONS = [f"alter table main.briefings add column if not exists {c}" for c in (
    "attempts integer", "cache_read_input_tokens bigint", "cost_usd double", "grounded_ratio double",
    "ungrounded_numbers varchar")]


# A reason's kind: the detail that makes each row's reason unique (the raw text after ':', the id a duplicate
# repeats, the offending value) is left out, so 216 duplicates are one line, not 216.
REASON_KIND_SQL = r"""
regexp_replace(regexp_replace(regexp_replace(reason, ':.*', ''),
    '^(duplicate of (event|document)) .*$', '\1'),
    '^value \S+ (above maximum|below minimum)', 'value \1')"""


def top_quarantine_reasons(conn, budget_id: str, limit: int = 5) -> list[tuple[str, int]]:
    """The commonest kinds of reason rows of a budget were quarantined for, with their counts."""
    return conn.execute(f"select {REASON_KIND_SQL} as kind, count(*) as rows from raw.quarantine where budget_id = ? "
                        "group by 1 order by rows desc, kind limit ?", [budget_id, limit]).fetchall()


def _inputs(conn, spec: BudgetSpec) -> BriefingInputs:
    values = conn.execute(
        "select metric_id, grain, period_start, value, null_reason, is_complete, provenance, confidence from main.metric_values "
        "where budget_id = ? and segment_level = '_total' order by metric_id, grain, period_start", [spec.id]).df()
    grain = briefing_grain(values[values["metric_id"].isin(list(spec.metrics))], spec.reporting_grain)
    period = latest_complete_period(values, grain)
    rankings = conn.execute(
        "select * from main.fct_segment_rankings where budget_id = ? and grain = ? and period_start = ? "
        "order by metric_id, segment_level, rank_best", [spec.id, grain, period]).df()
    received, loaded, quarantined = conn.execute(
        "select coalesce(sum(received), 0), coalesce(sum(loaded), 0), coalesce(sum(quarantined), 0) "
        "from raw.ingestion_log where budget_id = ?", [spec.id]).fetchone()
    reasons = top_quarantine_reasons(conn, spec.id)
    last_event = conn.execute("select max(event_ts) from raw.events where budget_id = ?", [spec.id]).fetchone()[0]
    events = conn.execute("select * from raw.known_events where budget_id = ? order by event_date, name", [spec.id]).df()
    prescriptive = {table: conn.execute(f"select * from main.{table} where budget_id = ? order by all", [spec.id]).df()
                    if table_exists(conn, "main", table) else pd.DataFrame()
                    for table in ("actions", "allocation_recommendations", "allocation_constraints", "decision_outcomes",
                                  "goal_tracking", "goal_constraints")}
    forecasts = conn.execute(
        "select * from main.metric_forecasts where budget_id = ? and segment_level = '_total' order by all",
        [spec.id]).df() if table_exists(conn, "main", "metric_forecasts") else pd.DataFrame()
    to_date = conn.execute("select * from main.month_forecasts_to_date where budget_id = ? order by all",
                           [spec.id]).df() if table_exists(conn, "main", "month_forecasts_to_date") else pd.DataFrame()
    drift = conn.execute(
        "select * from main.drift_attributions where budget_id = ? and grain in (?, 'week') order by all",
        [spec.id, grain]).df() if table_exists(conn, "main", "drift_attributions") else pd.DataFrame()
    text_evidence = conn.execute(
        "select * from raw.text_metric_values where budget_id = ? and segment_level = '_total' and grain = ?",
        [spec.id, grain]).df()
    archetypes = conn.execute("select * from main.segment_archetypes where budget_id = ?", [spec.id]).df() \
        if table_exists(conn, "main", "segment_archetypes") else pd.DataFrame()
    shifts = conn.execute("select * from main.level_shifts where budget_id = ? order by all", [spec.id]).df() \
        if table_exists(conn, "main", "level_shifts") else pd.DataFrame()
    quality = {"received": int(received), "loaded": int(loaded), "quarantined": int(quarantined),
               "top_reasons": [{"reason": r, "rows": int(n)} for r, n in reasons],
               "last_event": None if last_event is None else pd.Timestamp(last_event).isoformat(),
               "timezone": spec.clock,
               # without an id an event is its content: a repeat of it is quarantined as a copy
               "duplicates_by_content": spec.source.kind == "files" and spec.source.event_id is None}
    return BriefingInputs(values=values, rankings=rankings, quality=quality, known_events=events,
                          actions=prescriptive["actions"], allocation=prescriptive["allocation_recommendations"],
                          constraints=prescriptive["allocation_constraints"], outcomes=prescriptive["decision_outcomes"],
                          goal_tracking=prescriptive["goal_tracking"], goal_constraints=prescriptive["goal_constraints"],
                          forecasts=forecasts, forecasts_to_date=to_date, drift=drift, archetypes=archetypes,
                          text_evidence=text_evidence, daily_events=daily_events(conn, spec),
                          daily_members=daily_members(conn, spec), measure_days=recent_leaf_days(conn, spec),
                          **segment_spans(conn, spec, None if period is None else next_period(grain, period)),
                          level_shifts=shifts)


def segment_spans(conn, spec: BudgetSpec, period_end: dt.date | None) -> dict[str, pd.DataFrame]:
    """Each leaf segment's first day with events and its last before ``period_end`` (``segment_spans``), and the
    days with events in the ``USUAL_DAYS`` up to their last of the leaves whose last came before the days the
    briefing searches for gaps, within a year of its end (``before_stop``: what
    :func:`models.briefing.gaps.stopped_segments` reads)."""
    end = period_end or dt.date.max
    spans = conn.execute(
        "select segment_id, min(day) as first_day, max(day) filter (where day < ?) as last_day "
        "from main.fct_digest_daily where budget_id = ? group by segment_id order by segment_id", [end, spec.id]).df()
    if period_end is None:
        return {"segment_spans": spans, "before_stop": pd.DataFrame()}
    # a scope's last day is its latest leaf's, so leaves up to USUAL_DAYS older than the year hold its usual days
    earliest = period_end - dt.timedelta(days=STOPPED_WITHIN_DAYS + USUAL_DAYS + 1)
    last = pd.to_datetime(spans["last_day"])
    stopped = (last < pd.Timestamp(period_end - dt.timedelta(days=RECENT_DAYS))) & (last >= pd.Timestamp(earliest))
    if not stopped.any():  # the usual case: no query
        return {"segment_spans": spans, "before_stop": pd.DataFrame()}
    before_stop = conn.execute(
        "select d.segment_id, d.day, sum(d.event_count) as event_count from main.fct_digest_daily d "
        "join (select unnest(?::varchar[]) as segment_id, unnest(?::date[]) as last_day) l using (segment_id) "
        "where d.budget_id = ? and d.day > l.last_day - ? and d.day <= l.last_day group by all order by all",
        [spans["segment_id"][stopped].tolist(), [d.date() for d in last[stopped]], spec.id, USUAL_DAYS]).df()
    return {"segment_spans": spans, "before_stop": before_stop}


def _grain(spec: BudgetSpec, payload: dict) -> str:
    """The grain the briefing covers (the reporting grain, or its fallback while that has no complete period)."""
    return payload["period"]["grain"] if payload["period"] else spec.reporting_grain


def word_briefing(payload: dict, llm: AnthropicLLM, ledger: LlmLedger, log) -> tuple[WriterOutcome, str]:
    """Claude's grounded draft when a key is set and the caps allow, else the template; and the writer's note."""
    if payload["period"] is None:
        return WriterOutcome(fallback_reason="no complete period"), "deterministic template"
    if not llm.enabled():
        return write_offline(payload, "no ANTHROPIC_API_KEY"), "deterministic template (no ANTHROPIC_API_KEY set)"
    outcome = write_with_llm(llm, ledger, payload, llm.min_grounded_ratio)
    if outcome.writer == "llm":
        return outcome, (f"Claude ({outcome.model}) wrote the headline, summary and weighed recommendations from the "
                         f"pipeline's payload (grounded: every number checked against it); tables are the pipeline's")
    log.warning(f"{payload['budget']['id']}: LLM briefing not used ({outcome.fallback_reason}); using the template")
    # the grounding reported is the rejected answer's when there was one, else the template's own
    measured = outcome if outcome.grounded_ratio is not None else write_offline(payload, outcome.fallback_reason)
    return (dataclasses.replace(outcome, grounded_ratio=measured.grounded_ratio, ungrounded=measured.ungrounded),
            f"deterministic template — fallback: {outcome.fallback_reason}")


def write_briefing(spec: BudgetSpec, payload: dict, llm: AnthropicLLM, ledger: LlmLedger, out_dir: Path, log,
                   history: pd.DataFrame | None = None) -> dict:
    """Word the payload, write the Markdown and the payload JSON (and the north star's fan chart from
    ``history``, its observed values at the briefing's grain, and the headline waterfalls); return the table row."""
    outcome, note = word_briefing(payload, llm, ledger, log)
    grain = _grain(spec, payload)
    stem = f"{grain}-{payload['period']['start']}" if payload["period"] else "no-period"
    folder = out_dir / spec.id
    folder.mkdir(parents=True, exist_ok=True)
    ahead = payload.get("what_will_happen") or {}
    if ahead.get("forecast") and history is not None:
        chart = fan_chart(history, ahead["forecast"], f"{ahead['north_star']} per {ahead['grain']}: observed and predicted",
                          folder / f"{stem}-{ahead['north_star']}-fan.png")
        ahead["chart"] = chart.name
    for entry in payload.get("why_it_changed") or []:
        # the waterfall of the change the briefing narrates (against the previous period first): a change
        # within normal variation is not narrated, and a chart of it would stand under no text
        shown = next((c for c in sorted(entry["comparisons"], key=lambda c: c["baseline"] != "previous")
                      if c["verdict"] == "material"), None)
        if entry["headline"] and shown and shown["baseline_value"] is not None:
            chart = waterfall_chart(shown["baseline_value"], shown["factors"],
                                    f"{entry['metric_id']}: why it changed vs {shown['baseline_start']}",
                                    folder / f"{stem}-{entry['metric_id']}-waterfall.png")
            entry["chart"] = chart.name
    markdown = render_markdown(payload, note, outcome.draft)
    if payload["period"]:  # the placeholder of the runs before the budget's first complete period is superseded
        for name in ("no-period.md", "no-period.json"):
            (folder / name).unlink(missing_ok=True)
    payload_text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    (folder / f"{stem}.json").write_text(payload_text, encoding="utf-8")
    (folder / f"{stem}.md").write_text(markdown, encoding="utf-8")
    if outcome.draft is not None:
        draft_text = json.dumps(outcome.draft, indent=2, sort_keys=True) + "\n"
        (folder / f"{stem}.draft.json").write_text(draft_text, encoding="utf-8")
    return {"budget_id": spec.id, "period_grain": grain,
            "period_start": payload["period"]["start"] if payload["period"] else None,
            "writer": outcome.writer, "model": outcome.model, "fallback_reason": outcome.fallback_reason,
            "attempts": outcome.attempts, "input_tokens": outcome.input_tokens, "output_tokens": outcome.output_tokens,
            "cache_read_input_tokens": outcome.cache_read_input_tokens, "cost_usd": round(outcome.cost_usd, 6),
            "grounded_ratio": outcome.grounded_ratio,
            "ungrounded_numbers": ", ".join(outcome.ungrounded) or None,
            "markdown_path": str(folder / f"{stem}.md"), "payload_path": str(folder / f"{stem}.json"),
            "payload_sha256": hashlib.sha256(payload_text.encode()).hexdigest()}


@dg.asset(
    name="briefings",
    deps=[dg.AssetKey("metric_values"), dg.AssetKey("fct_segment_rankings"), dg.AssetKey("metrics"),
          dg.AssetKey("actions"), dg.AssetKey("allocation_recommendations"), dg.AssetKey("decision_outcomes"),
          dg.AssetKey("metric_forecasts"), dg.AssetKey("goal_tracking"), dg.AssetKey("drift_attributions"),
          dg.AssetKey("level_shifts"),
          dg.AssetKey("segment_archetypes"), dg.AssetKey(["raw", "text_metric_values"]),
          dg.AssetKey(["raw", "events"]), dg.AssetKey(["raw", "known_events"]), dg.AssetKey("int_node_digests")],
    kinds={"python", "anthropic", "markdown"},
    owners=["team:budget-owners"],
    group_name="briefings",
    pool="duckdb",
    description="One briefing per budget: Markdown and the JSON payload it was written from, in "
                "$BUDGETLENS_OUTPUT/briefings/<budget>/. Figures come from the pipeline; Claude (if a key is "
                "set) writes the headline, summary sections and weighed recommendations through a validated tool "
                "answer whose every number is checked against the payload; else, or on failure, the labelled template.",
)
def briefings(context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: AnthropicLLM) -> dg.MaterializeResult:
    settings = Settings.from_env()
    specs = load_specs(settings.specs_dir)
    out_dir = settings.output_dir / "briefings"
    rows = []
    with duckdb.get_connection() as conn:
        prepare(conn)
        ledger = llm.ledger(conn, context.run_id)
        for spec in specs:
            inputs = _inputs(conn, spec)
            payload = build_payload(spec, inputs)
            v = inputs.values
            # observed at the grain the forecast beside it is at (a young budget's weeks, while its months are few)
            shown = (payload.get("what_will_happen") or {}).get("grain") or _grain(spec, payload)
            history = v[(v["metric_id"] == spec.north_star) & (v["grain"] == shown) & v["is_complete"]]
            rows.append(write_briefing(spec, payload, llm, ledger, out_dir, context.log, history.tail(36)))
        calls = ledger.persist(conn)
        frame = pd.DataFrame(rows)
        conn.execute(BRIEFINGS_DDL)
        for statement in BRIEFINGS_MIGRATIONS:
            conn.execute(statement)
        conn.register("_briefings", frame)
        with transaction(conn):
            conn.execute("delete from main.briefings "
                         "where (budget_id, period_grain, coalesce(period_start, date '1900-01-01')) in "
                         "(select budget_id, period_grain, coalesce(cast(period_start as date), date '1900-01-01') "
                         "from _briefings) "
                         "or (period_start is null and budget_id in (select budget_id from _briefings))")
            conn.execute("insert into main.briefings by name select budget_id, period_grain, "
                         "cast(period_start as date) as period_start, writer, model, fallback_reason, attempts, "
                         "input_tokens, output_tokens, cache_read_input_tokens, cost_usd, grounded_ratio, "
                         "ungrounded_numbers, markdown_path, payload_path, payload_sha256 from _briefings")
        conn.unregister("_briefings")
        total = conn.execute("select count(*) from main.briefings").fetchone()[0]
    first = Path(rows[0]["markdown_path"]).read_text(encoding="utf-8") if rows else ""
    return dg.MaterializeResult(metadata={
        "dagster/row_count": total,
        "briefings": dg.MetadataValue.md("\n".join(f"- {r['budget_id']}: `{r['markdown_path']}` ({r['writer']})" for r in rows)),
        "preview": dg.MetadataValue.md(first[:4000]),
        "output_folder": str(out_dir),
        "llm_calls": calls,
        "llm_cost_usd": round(sum(r["cost_usd"] for r in rows), 6),
    })
