"""Budget specs flattened into the catalogue tables dbt reads.

One source of truth: every metric is defined once in its spec; this module
turns the specs into rows (budgets, metrics with compiled SQL, composite
components, typed relationships, segment attributes, goals, rules, events).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from models.formula import null_reason_sql, references, substitute, to_source, to_sql
from models.spec import SYSTEM_METRICS, BudgetSpec

ADDITIVE_AGGS = {"count", "sum"}


def _derived_sql(spec: BudgetSpec) -> dict[str, tuple[str, str, str]]:
    """Derived metric -> (value SQL, null-reason SQL, base metrics used), all over base-metric columns."""
    formulas = spec.parsed_formulas()
    out = {}
    for mid, expr in formulas.items():
        inlined = substitute(expr, formulas)
        out[mid] = (to_sql(inlined), null_reason_sql(inlined), ",".join(references(inlined)))
    return out


def metric_catalog(specs: list[BudgetSpec]) -> pd.DataFrame:
    """One row per (budget, metric): definition, compiled SQL, value-chain place, roles, classification."""
    rows = []
    for spec in specs:
        derived = _derived_sql(spec)
        for mid, m in spec.metrics.items():
            sql_value, sql_reason, base_refs = derived.get(mid, (None, None, None))
            rows.append({
                "budget_id": spec.id, "metric_id": mid, "name": m.name or mid.replace("_", " "),
                "description": m.description, "metric_kind": m.kind, "measure": m.measure, "aggregation": m.agg,
                "of_level": m.of, "formula": m.formula, "sql_value": sql_value, "sql_null_reason": sql_reason,
                "base_metrics": base_refs, "step": m.step, "step_order": spec.value_chain.index(m.step) + 1,
                "roles": ",".join(m.roles), "classification": ",".join(m.classification),
                "is_north_star": "north_star" in m.roles, "favourable": m.favourable, "unit": m.unit,
            })
        for mid, (name, agg, unit, description) in SYSTEM_METRICS.items():
            # the pipeline's own spending: an input cost of the budget's first value-chain step
            rows.append({
                "budget_id": spec.id, "metric_id": mid, "name": name, "description": description,
                "metric_kind": "system", "measure": None, "aggregation": agg, "of_level": None, "formula": None,
                "sql_value": None, "sql_null_reason": None, "base_metrics": None, "step": spec.value_chain[0],
                "step_order": 1, "roles": "input", "classification": "quantitative,efficiency,operational",
                "is_north_star": False, "favourable": "down", "unit": unit,
            })
    return pd.DataFrame(rows, columns=[
        "budget_id", "metric_id", "name", "description", "metric_kind", "measure", "aggregation", "of_level",
        "formula", "sql_value", "sql_null_reason", "base_metrics", "step", "step_order", "roles",
        "classification", "is_north_star", "favourable", "unit"])


def metric_components(specs: list[BudgetSpec]) -> pd.DataFrame:
    """Composite scores' weighted, normalised components."""
    rows = []
    for spec in specs:
        for mid, m in spec.metrics.items():
            if m.composite is None:
                continue
            n = len(m.composite.components)
            for comp in m.composite.components:
                rows.append({"budget_id": spec.id, "metric_id": mid, "component": comp.metric, "weight": comp.weight,
                             "normalize": comp.normalize.method, "range_min": comp.normalize.min,
                             "range_max": comp.normalize.max, "n_components": n})
    return pd.DataFrame(rows, columns=["budget_id", "metric_id", "component", "weight", "normalize",
                                       "range_min", "range_max", "n_components"])


def metric_relationships(specs: list[BudgetSpec]) -> pd.DataFrame:
    """Typed edges of the metrics tree.

    deterministic: formula input -> derived metric; compositional: composite
    component -> score (with weight) and an additive metric at a child level ->
    the same metric at its parent level; probabilistic / causal: declared.
    """
    rows = []

    def edge(spec, src, dst, kind, origin, lag=0, weight=None, from_level=None, to_level=None, description=""):
        rows.append({"budget_id": spec.id, "from_metric": src, "to_metric": dst, "relationship_type": kind,
                     "origin": origin, "lag_days": lag, "weight": weight, "from_level": from_level,
                     "to_level": to_level, "description": description})

    for spec in specs:
        for mid, expr in spec.parsed_formulas().items():
            for ref in references(expr):
                edge(spec, ref, mid, "deterministic", "formula", description=f"{mid} = {to_source(expr)}")
        for mid, m in spec.metrics.items():
            if m.composite is not None:
                for comp in m.composite.components:
                    edge(spec, comp.metric, mid, "compositional", "composite", weight=comp.weight,
                         description=f"normalised by {comp.normalize.method}")
            if m.agg in ADDITIVE_AGGS:
                levels = ["_total", *spec.segments.levels]
                for parent, child in zip(levels, levels[1:]):
                    edge(spec, mid, mid, "compositional", "hierarchy", from_level=child, to_level=parent,
                         description=f"{mid} of a {parent if parent != '_total' else 'budget'} is the sum over its {child}s")
        for rel in spec.relationships:
            edge(spec, rel.source, rel.target, rel.type, "declared", lag=rel.lag_days, description=rel.description)
    return pd.DataFrame(rows, columns=["budget_id", "from_metric", "to_metric", "relationship_type", "origin",
                                       "lag_days", "weight", "from_level", "to_level", "description"])


def budgets(specs: list[BudgetSpec]) -> pd.DataFrame:
    return pd.DataFrame([{
        "budget_id": s.id, "name": s.name, "owner": s.owner, "description": s.description,
        "allocation_amount": s.allocation.amount, "currency": s.allocation.currency,
        "allocation_period": s.allocation.period, "allocation_metric": s.allocation_metric,
        "fiscal_year_start": s.allocation.fiscal_year_start, "reporting_grain": s.reporting_grain, "timezone": s.clock,
        "segment_levels": ",".join(s.segments.levels), "value_chain": ",".join(s.value_chain),
        "north_star": s.north_star, "source_kind": s.source.kind,
    } for s in specs])


def segment_attributes(specs: list[BudgetSpec]) -> pd.DataFrame:
    rows = [{"budget_id": s.id, "segment_level": level, "node_value": value, "attribute": attr, "attribute_value": av}
            for s in specs for level, values in s.segments.attributes.items()
            for value, attrs in values.items() for attr, av in attrs.items()]
    return pd.DataFrame(rows, columns=["budget_id", "segment_level", "node_value", "attribute", "attribute_value"])


def goals(specs: list[BudgetSpec]) -> pd.DataFrame:
    rows = [{"budget_id": s.id, "goal_id": g.id, "metric_id": g.metric, "target": g.target, "start_date": g.start,
             "deadline": g.deadline, "aggregation": g.aggregation} for s in specs for g in s.goals]
    return pd.DataFrame(rows, columns=["budget_id", "goal_id", "metric_id", "target", "start_date", "deadline", "aggregation"])


def rules(specs: list[BudgetSpec]) -> pd.DataFrame:
    rows = [{"budget_id": s.id, "rule_id": r.id, "condition": r.when, "scope_level": r.scope.level,
             "period_grain": r.period, "action_type": r.action.type, "action": json.dumps(r.action.model_dump(), sort_keys=True)}
            for s in specs for r in s.rules]
    return pd.DataFrame(rows, columns=["budget_id", "rule_id", "condition", "scope_level", "period_grain", "action_type", "action"])


def known_events(specs: list[BudgetSpec], first: dt.date, last: dt.date) -> pd.DataFrame:
    """Declared events, and the public holidays of each budget's calendars from ``first`` to ``last``."""
    rows = [{"budget_id": s.id, "event_date": e.date, "end_date": e.end_date or e.date, "name": e.name,
             "kind": e.kind, "segment_level": e.level, "segment_value": e.segment}
            for s in specs for e in s.known_events(first, last)]
    return pd.DataFrame(rows, columns=["budget_id", "event_date", "end_date", "name", "kind", "segment_level", "segment_value"])


# built from the specs alone; known_events also needs the span of days its holidays cover
CATALOG_TABLES = {
    "budgets": budgets, "metric_catalog": metric_catalog, "metric_components": metric_components,
    "metric_relationships": metric_relationships, "segment_attributes": segment_attributes,
    "goals": goals, "rules": rules,
}
