"""The final asset: one briefing per budget (Markdown + the JSON payload it was written from)."""


import hashlib
import json
from pathlib import Path

import anthropic
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.charts import fan_chart, waterfall_chart
from assets.narrative import AnthropicWriter
from assets.settings import Settings
from assets.warehouse import prepare, table_exists
from models.briefing.payload import BriefingInputs, build_payload, latest_complete_period
from models.briefing.template import render_markdown
from models.spec import BudgetSpec, load_specs

BRIEFINGS_DDL = """
create table if not exists main.briefings (
    budget_id varchar not null,
    period_grain varchar not null,
    period_start date,
    writer varchar not null,
    model varchar,
    fallback_reason varchar,
    input_tokens bigint,
    output_tokens bigint,
    markdown_path varchar not null,
    payload_path varchar not null,
    payload_sha256 varchar not null
)
"""


def _inputs(conn, spec: BudgetSpec) -> BriefingInputs:
    values = conn.execute(
        "select metric_id, grain, period_start, value, null_reason, is_complete from main.metric_values "
        "where budget_id = ? and segment_level = '_total' order by metric_id, grain, period_start", [spec.id]).df()
    period = latest_complete_period(values, spec.reporting_grain)
    rankings = conn.execute(
        "select * from main.fct_segment_rankings where budget_id = ? and grain = ? and period_start = ? "
        "order by metric_id, segment_level, rank_best", [spec.id, spec.reporting_grain, period]).df()
    received, loaded, quarantined = conn.execute(
        "select coalesce(sum(received), 0), coalesce(sum(loaded), 0), coalesce(sum(quarantined), 0) "
        "from raw.ingestion_log where budget_id = ?", [spec.id]).fetchone()
    reasons = conn.execute(
        "select regexp_replace(reason, ':.*', '') as reason, count(*) as rows from raw.quarantine where budget_id = ? "
        "group by 1 order by rows desc, reason limit 5", [spec.id]).fetchall()
    last_event = conn.execute("select max(event_ts) from raw.events where budget_id = ?", [spec.id]).fetchone()[0]
    events = conn.execute("select * from raw.known_events where budget_id = ? order by event_date, name", [spec.id]).df()
    prescriptive = {table: conn.execute(f"select * from main.{table} where budget_id = ? order by all", [spec.id]).df()
                    if table_exists(conn, "main", table) else pd.DataFrame()
                    for table in ("actions", "allocation_recommendations", "allocation_constraints", "decision_outcomes",
                                  "goal_tracking", "goal_constraints")}
    forecasts = conn.execute(
        "select * from main.metric_forecasts where budget_id = ? and segment_level = '_total' order by all",
        [spec.id]).df() if table_exists(conn, "main", "metric_forecasts") else pd.DataFrame()
    drift = conn.execute(
        "select * from main.drift_attributions where budget_id = ? and segment_id = '_total' and grain = ? "
        "order by all", [spec.id, spec.reporting_grain]).df() if table_exists(conn, "main", "drift_attributions") else pd.DataFrame()
    quality = {"received": int(received), "loaded": int(loaded), "quarantined": int(quarantined),
               "top_reasons": [{"reason": r, "rows": int(n)} for r, n in reasons],
               "last_event": None if last_event is None else pd.Timestamp(last_event).isoformat()}
    return BriefingInputs(values=values, rankings=rankings, quality=quality, known_events=events,
                          actions=prescriptive["actions"], allocation=prescriptive["allocation_recommendations"],
                          constraints=prescriptive["allocation_constraints"], outcomes=prescriptive["decision_outcomes"],
                          goal_tracking=prescriptive["goal_tracking"], goal_constraints=prescriptive["goal_constraints"],
                          forecasts=forecasts, drift=drift)


def write_briefing(spec: BudgetSpec, payload: dict, writer: AnthropicWriter, out_dir: Path, log,
                   history: pd.DataFrame | None = None) -> dict:
    """Word the payload (LLM if a key is set, else the template), write both files (and the north star's
    fan chart from ``history``, its observed values at the reporting grain), return the table row."""
    narrative, model, fallback, tokens = None, None, None, (None, None)
    if payload["period"] is None:
        note = "deterministic template"
    elif writer.enabled():
        try:
            result = writer.write(payload)
            narrative, model, tokens = result.text, result.model, (result.input_tokens, result.output_tokens)
            note = f"Claude ({result.model}) wrote the summary from the pipeline's payload; tables are the pipeline's"
        except (anthropic.APIError, ValueError) as err:
            status = getattr(err, "status_code", None)
            fallback = f"{type(err).__name__}{f' (HTTP {status})' if status else ''}"
            log.warning(f"{spec.id}: LLM call failed ({fallback}); using the deterministic template")
            note = f"deterministic template — fallback after LLM failure: {fallback}"
    else:
        fallback = "no ANTHROPIC_API_KEY"
        note = "deterministic template (no ANTHROPIC_API_KEY set)"
    stem = f"{spec.reporting_grain}-{payload['period']['start']}" if payload["period"] else "no-period"
    folder = out_dir / spec.id
    folder.mkdir(parents=True, exist_ok=True)
    ahead = payload.get("what_will_happen") or {}
    if ahead.get("forecast") and history is not None:
        chart = fan_chart(history, ahead["forecast"], f"{ahead['north_star']} per {ahead['grain']}: observed and predicted",
                          folder / f"{stem}-{ahead['north_star']}-fan.png")
        ahead["chart"] = chart.name
    for entry in payload.get("why_it_changed") or []:
        shown = next((c for c in entry["comparisons"] if c["baseline"] == "previous"), None)
        if entry["headline"] and shown and shown["baseline_value"] is not None:
            chart = waterfall_chart(shown["baseline_value"], shown["factors"],
                                    f"{entry['metric_id']}: why it changed vs {shown['baseline_start']}",
                                    folder / f"{stem}-{entry['metric_id']}-waterfall.png")
            entry["chart"] = chart.name
    markdown = render_markdown(payload, note, narrative)
    payload_text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    (folder / f"{stem}.json").write_text(payload_text, encoding="utf-8")
    (folder / f"{stem}.md").write_text(markdown, encoding="utf-8")
    return {"budget_id": spec.id, "period_grain": spec.reporting_grain,
            "period_start": payload["period"]["start"] if payload["period"] else None,
            "writer": "llm" if narrative else "template", "model": model, "fallback_reason": fallback,
            "input_tokens": tokens[0], "output_tokens": tokens[1],
            "markdown_path": str(folder / f"{stem}.md"), "payload_path": str(folder / f"{stem}.json"),
            "payload_sha256": hashlib.sha256(payload_text.encode()).hexdigest()}


@dg.asset(
    name="briefings",
    deps=[dg.AssetKey("metric_values"), dg.AssetKey("fct_segment_rankings"), dg.AssetKey("metrics"),
          dg.AssetKey("actions"), dg.AssetKey("allocation_recommendations"), dg.AssetKey("decision_outcomes"),
          dg.AssetKey("metric_forecasts"), dg.AssetKey("goal_tracking"), dg.AssetKey("drift_attributions"),
          dg.AssetKey(["raw", "events"]), dg.AssetKey(["raw", "known_events"])],
    kinds={"python", "anthropic", "markdown"},
    owners=["team:budget-owners"],
    group_name="briefings",
    pool="duckdb",
    description="One briefing per budget: Markdown and the JSON payload it was written from, in "
                "$BUDGETLENS_OUTPUT/briefings/<budget>/. Figures come from the pipeline; the LLM (if a key is "
                "set) only writes the summary, with a labelled template fallback.",
)
def briefings(context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: AnthropicWriter) -> dg.MaterializeResult:
    settings = Settings.from_env()
    specs = load_specs(settings.specs_dir)
    out_dir = settings.output_dir / "briefings"
    rows = []
    with duckdb.get_connection() as conn:
        prepare(conn)
        for spec in specs:
            inputs = _inputs(conn, spec)
            payload = build_payload(spec, inputs)
            v = inputs.values
            history = v[(v["metric_id"] == spec.north_star) & (v["grain"] == spec.reporting_grain) & v["is_complete"]]
            rows.append(write_briefing(spec, payload, llm, out_dir, context.log, history.tail(36)))
        frame = pd.DataFrame(rows)
        conn.execute(BRIEFINGS_DDL)
        conn.register("_briefings", frame)
        conn.execute("begin transaction")
        conn.execute("delete from main.briefings where (budget_id, period_grain, coalesce(period_start, date '1900-01-01')) in "
                     "(select budget_id, period_grain, coalesce(cast(period_start as date), date '1900-01-01') from _briefings)")
        conn.execute("insert into main.briefings by name select budget_id, period_grain, cast(period_start as date) as period_start, "
                     "writer, model, fallback_reason, input_tokens, output_tokens, markdown_path, payload_path, payload_sha256 "
                     "from _briefings")
        conn.execute("commit")
        conn.unregister("_briefings")
        total = conn.execute("select count(*) from main.briefings").fetchone()[0]
    first = Path(rows[0]["markdown_path"]).read_text(encoding="utf-8") if rows else ""
    return dg.MaterializeResult(metadata={
        "dagster/row_count": total,
        "briefings": dg.MetadataValue.md("\n".join(f"- {r['budget_id']}: `{r['markdown_path']}` ({r['writer']})" for r in rows)),
        "preview": dg.MetadataValue.md(first[:4000]),
        "output_folder": str(out_dir),
    })
