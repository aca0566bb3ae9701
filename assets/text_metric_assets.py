"""Qualitative metrics read from documents: one value per period and segment, with confidence and sources.

With a key, Claude reads a token-budgeted selection of the period's documents and
answers through a validated tool; a stored answer for the same documents is
reused, never paid for twice. Without a key, beyond the run's cap, or when an
answer is rejected, the offline lexicon reading is used and labelled so. Values
land in ``raw.text_metric_values``; dbt unions them into ``metric_values``.
"""

import json

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.llm import AnthropicLLM, LlmLedger, LlmUnavailable
from assets.settings import Settings
from assets.warehouse import prepare, transaction
from models.spec import BudgetSpec, TextSource, load_specs
from models.text_metrics.answer import SYSTEM_PROMPT, cache_key, check_answer, metric_tool, prompt
from models.text_metrics.lexicon import score_texts, to_scale
from models.text_metrics.selection import select_documents
from models.text_metrics.synthesis import synthesise

OFFLINE_METHOD = "lexicon v1 (offline scorer)"
ANSWER_TOKENS = 600  # a value, a confidence, a few ids and a short reasoning
SOURCES_KEPT = 20  # document ids listed per value (the count is always complete)


def _documents(conn, spec: BudgetSpec, text: TextSource, grain: str) -> pd.DataFrame:
    """The metric's documents with their period, their node at ``text.level`` and their lexicon score
    (scored once here, not once per scope that reads them)."""
    depth = spec.segments.levels.index(text.level) + 1 if text.level else 0
    # a document that names segments only above the level counts toward the total, not toward a node
    node = (f"case when len(string_split(segment_id, '/')) >= {depth} "
            f"then array_to_string(string_split(segment_id, '/')[1:{depth}], '/') end" if depth else "'_total'")
    docs = conn.execute(
        f"select doc_id, doc_ts, kind, segment_id, text, cast(date_trunc('{grain}', doc_ts) as date) as period_start, "
        f"{node} as node from raw.documents where budget_id = ? and list_contains(?, kind) order by doc_ts, doc_id",
        [spec.id, list(text.kinds)]).df()
    return docs.assign(score=score_texts(docs["text"]))


def _scopes(docs: pd.DataFrame, level: str | None):
    """(period, segment level, segment id, documents) for the total and each node of the level."""
    for period, in_period in docs.groupby("period_start", sort=True):
        yield period, "_total", "_total", in_period
        if level:
            for node, in_node in in_period.groupby("node", sort=True):
                yield period, level, node, in_node


def offline_reading(docs: pd.DataFrame, text: TextSource) -> dict:
    """The lexicon scorer's value, confidence, sources and reasoning for one scope (its documents' ``score``
    column is used when they carry one)."""
    scores = docs["score"] if "score" in docs else score_texts(docs["text"])
    readings = docs.assign(score=scores).dropna(subset=["score"])
    readings = readings.assign(value=to_scale(readings["score"].to_numpy(float), text.min, text.max))
    result = synthesise(readings[["kind", "value"]], text.min, text.max, len(docs))
    return {"value": result.value, "confidence": result.confidence, "provenance": "text_scored", "method": OFFLINE_METHOD,
            "documents_used": result.documents_used, "tokens_used": 0,
            "sources": json.dumps(readings["doc_id"].tolist()[-SOURCES_KEPT:]), "conflict": result.conflict,
            "reasoning": result.reasoning}


def llm_reading(docs: pd.DataFrame, spec: BudgetSpec, metric_id: str, text: TextSource, period: str, segment: str,
                llm: AnthropicLLM, ledger: LlmLedger, stored: dict[str, dict]) -> tuple[dict | None, str | None, str]:
    """Claude's validated reading (or a stored one for the same documents); else None and why."""
    chosen = select_documents(docs, text.token_budget)
    key = cache_key(llm.model, metric_id, text, period, segment, chosen.documents)
    if key in stored:
        return stored[key], None, key
    message = prompt(metric_id, text, period, segment, chosen.documents)
    try:
        answer = llm.ask(ledger, budget_id=spec.id, purpose="text_metric", subject=f"{metric_id} {period} {segment}",
                         system=SYSTEM_PROMPT, messages=[{"role": "user", "content": message}], tool=metric_tool(),
                         max_tokens=ANSWER_TOKENS)
    except LlmUnavailable as err:
        return None, err.reason, key
    verdict = check_answer(answer.data, text, set(chosen.documents["doc_id"]))
    if verdict.answer is None:
        ledger.reject_last("rejected_validation", verdict.rejected)
        return None, f"LLM answer rejected: {verdict.rejected}", key
    a = verdict.answer
    return {"value": a.value, "confidence": a.confidence, "provenance": "llm_extracted", "method": answer.model,
            "documents_used": len(chosen.documents), "tokens_used": chosen.tokens,
            "sources": json.dumps(a.sources_used[:SOURCES_KEPT]), "conflict": a.conflicts, "reasoning": a.reasoning}, None, key


def read_text_metric(conn, spec: BudgetSpec, metric_id: str, llm: AnthropicLLM, ledger: LlmLedger,
                     stored: dict[str, dict]) -> list[dict]:
    """Every period and scope of one qualitative metric."""
    text = spec.metrics[metric_id].text
    grain = text.grain or spec.reporting_grain
    docs = _documents(conn, spec, text, grain)
    rows = []
    for period, level, node, scope_docs in _scopes(docs, text.level):
        start = pd.Timestamp(period).date().isoformat()
        reading, rejected, key = (llm_reading(scope_docs, spec, metric_id, text, start, node, llm, ledger, stored)
                                  if llm.enabled() else (None, None, ""))
        if reading is None:
            reading = offline_reading(scope_docs, text)
        value, reason = reading["value"], None
        if value is None:
            reason = f"no document of kinds {', '.join(text.kinds)} carried evidence"
        elif reading["confidence"] < text.min_confidence:
            value, reason = None, (f"confidence {reading['confidence']:.2f} below the minimum "
                                   f"{text.min_confidence:g} ({reading['documents_used']} documents)")
        rows.append({**reading, "budget_id": spec.id, "metric_id": metric_id, "grain": grain,
                     "period_start": pd.Timestamp(period).date(), "segment_level": level, "segment_id": node,
                     "value": value, "null_reason": reason, "documents_available": len(scope_docs),
                     "rejected": rejected, "cache_key": key})
    return rows


@dg.asset(
    key=["raw", "text_metric_values"],
    deps=[dg.AssetKey(["raw", "events"]), dg.AssetKey(["raw", "metric_catalog"])],
    kinds={"python", "anthropic", "duckdb"},
    owners=["team:analytics"],
    group_name="qualitative",
    pool="duckdb",
    description="Qualitative metrics read from documents (raw.documents) per period and segment: value, "
                "confidence, sources, reasoning, conflicts between sources. Claude when a key is set (validated; "
                "rejected answers and runs beyond the cap fall back), else the offline lexicon scorer, labelled.",
)
def text_metric_values(context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: AnthropicLLM) -> dg.MaterializeResult:
    specs = load_specs(Settings.from_env().specs_dir)
    rows = []
    with duckdb.get_connection() as conn:
        prepare(conn)
        ledger = llm.ledger(conn, context.run_id)
        stored = {r["cache_key"]: r for r in conn.execute(
            "select * exclude (budget_id, metric_id, grain, period_start, segment_level, segment_id, null_reason, "
            "documents_available, rejected, cache_key), cache_key from raw.text_metric_values "
            "where provenance = 'llm_extracted'").df().to_dict("records")}
        for spec in specs:
            for metric_id, metric in spec.metrics.items():
                if metric.text is not None:
                    rows += read_text_metric(conn, spec, metric_id, llm, ledger, stored)
        calls = ledger.persist(conn)
        frame = pd.DataFrame(rows, columns=[c for c in conn.execute("select * from raw.text_metric_values limit 0").df().columns])
        conn.register("_text_values", frame)
        with transaction(conn):
            conn.execute("delete from raw.text_metric_values")
            conn.execute("insert into raw.text_metric_values by name select * from _text_values")
        conn.unregister("_text_values")
    by = frame.groupby("provenance").size().to_dict() if len(frame) else {}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame), "llm_calls": calls,
        "by_provenance": dg.MetadataValue.json({k: int(v) for k, v in by.items()}),
        "rejected_llm_answers": int(frame["rejected"].notna().sum()) if len(frame) else 0,
        "preview": dg.MetadataValue.md(frame[["budget_id", "metric_id", "period_start", "segment_id", "value",
                                               "confidence", "provenance"]].tail(10).to_markdown(index=False))
        if len(frame) else "no qualitative metrics",
    })
