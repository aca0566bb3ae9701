"""Deterministic Markdown rendering of a briefing payload (the offline writer and the fallback)."""

from __future__ import annotations

import calendar
import math

from models.archetypes import MIN_PERIODS
from models.drift.materiality import MATERIAL_Z, MIN_CHANGES
from models.months_to_date import SCALED
from models.units import PERCENT_UNITS, points, reads_as_percent, with_currency


def fmt(value: float | None, unit: str = "", *levels: float | None) -> str:
    """Human figure: thousands separators, sensible decimals, currency sign or unit. A rate reads as a percentage
    when it and the ``levels`` shown beside it all do (a return on spend of 1.40 → 1.60, not 140.0% → 1.60)."""
    if value is None:
        return "n/a"
    magnitude = abs(value)
    if reads_as_percent(unit, value, *levels):
        percent = value * 100
        if percent == 0 or abs(percent) >= 1 or math.isnan(percent):
            return f"{percent:.1f}%"
        # two significant digits below 1%: a chargeback rate of 0.22%, a take-rate change of 0.046% (not 0.0%)
        return f"{percent:.{1 - math.floor(math.log10(abs(percent)))}f}%"
    if magnitude >= 1000 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif magnitude >= 10:
        text = f"{value:,.1f}"
    elif magnitude >= 1 or math.isnan(magnitude):
        text = f"{value:,.2f}"
    else:
        # three significant digits below 1 (an error rate of 0.0102 is not 0.01), at least two decimals
        decimals = max(2, 2 - math.floor(math.log10(magnitude)))
        text = f"{value:.{decimals}f}".rstrip("0")
        text = text if len(text.split(".")[1]) >= 2 else f"{value:.2f}"
    return with_currency(text, unit)


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f}%"


def fmt_change(pct: float | None, change: float | None, unit: str = "", *levels: float | None) -> str:
    """A change as a percentage where one is meaningful (see the payload's ``change_pct``), else in units (of
    ``levels``, when known: see :func:`fmt_delta`)."""
    if pct is not None:
        return fmt_pct(pct)
    return fmt_delta(change, unit, *levels, signed=True)


def fmt_delta(delta: float | None, unit: str = "", *levels: float | None, signed: bool = False) -> str:
    """A difference of two figures of ``unit`` (of ``levels``, when known): in percentage points where the
    figures read as percentages ('1.1 pts': a churn risk from 22.3% to 23.4% did not change by 1.1%), else as
    :func:`fmt` writes a figure; '+' before a rise when ``signed``."""
    if delta is None:
        return "n/a"
    if reads_as_percent(unit, delta, *levels):
        return points(delta, signed)
    text = fmt(delta, "" if unit in PERCENT_UNITS else unit)
    return "+" + text if signed and delta >= 0 else text


def fmt_chance(probability: float | None, settled: bool = False) -> str:
    """A chance from simulated paths: 'over 99%' and 'under 1%' at the ends, where the paths cannot say 100% or 0%
    (a path beyond them is rarer than the paths can show), unless the outcome is ``settled`` (observed)."""
    if probability is None:
        return "n/a"
    if not settled and probability > 0.99:
        return "over 99%"
    if not settled and probability < 0.01:
        return "under 1%"
    return f"{probability * 100:.0f}%"


def fmt_share(value: float | None) -> str:
    """A quantity that is always a share (0.25 → 25.0%, 2.3 → 230.0%), unlike a ``ratio`` metric's value."""
    return "n/a" if value is None else f"{value * 100:,.1f}%"


# how a composite's component enters its score (spec: normalize.method)
NORMALISED = {"none": "as is", "range": "scaled to 0-1 on its range", "zscore": "z-scored over its history"}

TEXT_PROVENANCE = {"llm_extracted": "read from text by the LLM", "text_scored": "read from text offline (lexicon)"}


def _metric_row(f: dict) -> str:
    star = " ★" if f["is_north_star"] else ""
    levels = (f["value"], f["previous_value"])
    value = fmt(f["value"], f["unit"], *levels) if f["value"] is not None else f"n/a ({f['null_reason'] or 'no value'})"
    if f["provenance"] in TEXT_PROVENANCE and isinstance(f["confidence"], float):
        value += f" ({TEXT_PROVENANCE[f['provenance']]}, confidence {f['confidence']:.2f})"
    return (f"| {f['name']}{star} | {value} | {fmt(f['previous_value'], f['unit'], *levels)} "
            f"| {fmt_change(f['change_pct'], f['change'], f['unit'], *levels)} "
            f"| {fmt_change(f['year_ago_change_pct'], f.get('year_ago_change'), f['unit'])} | {f['assessment']} |")


def render_markdown(payload: dict, writer_note: str, draft: dict | None = None) -> str:
    """Render ``payload`` as a Markdown briefing.

    ``draft`` (an LLM's validated, grounded :class:`~models.briefing.draft.BriefingDraft`
    as a dict) gives the headline and summary sections and the weighed recommendations;
    without it the summary is composed from the payload's notable changes. Tables
    always come from the payload.
    """
    budget, period = payload["budget"], payload["period"]
    lines = [f"# {budget['name']} — briefing", ""]
    if period is None:
        lines += [f"_{writer_note}_", "", "No complete period with data yet: nothing to report."]
        return "\n".join(lines) + "\n"
    lines += [
        f"**Period:** {period['grain']} starting {period['start']} (data through {period['data_through']}"
        + (", a day cut short" if period.get("last_day_cut_short") else "") + ")"
        + (f"; no complete {period['reporting_grain']} yet, so this covers the latest complete {period['grain']}"
           if period.get("reporting_grain", period["grain"]) != period["grain"] else "") + "  ",
        f"**Owner:** {budget['owner']} · **Allocation:** {fmt(budget['allocation']['amount'], budget['allocation']['currency'])} "
        f"per {budget['allocation']['period']}{_year_note(budget['allocation'])}  ",
        f"**Written by:** {writer_note}",
        "",
        *_allocation_lines(budget["allocation"]),
        *_summary_lines(payload, draft),
        "## What happened (observed)",
        "",
        "| metric | this period | previous | change | vs a year ago | assessment |",
        "|---|---|---|---|---|---|",
        *[_metric_row(f) for f in payload["metrics"]],
        "",
        f"_Assessment of the change against the previous period: notable when it lies more than {MATERIAL_Z:g} "
        "robust standard deviations (median and median absolute deviation) from the metric's past "
        f"period-to-period changes, the rule the drift stage judges by; with fewer than {MIN_CHANGES} past "
        "changes it is not judged._",
        "",
        *_text_evidence_lines(payload),
    ]
    lines += _why_it_changed(payload)
    lines += _latest_week(payload)
    if payload["goals"]:
        lines += ["## Goals (observed so far)", "", "| goal | metric | target | so far | time elapsed | status |",
                  "|---|---|---|---|---|---|"]
        units = {f["metric_id"]: f["unit"] for f in payload["metrics"]}
        for g in payload["goals"]:
            elapsed = "n/a" if g["elapsed_share"] is None else f"{g['elapsed_share'] * 100:.0f}%"
            status = g["status"] + (f" (from {g['data_from']})" if g.get("data_from") else "")
            lines.append(f"| {g['goal_id']} | {g['metric_id']} ({g['aggregation']}) | {fmt(g['target'], units.get(g['metric_id'], ''))} "
                         f"| {fmt(g['actual_so_far'], units.get(g['metric_id'], ''))} | {elapsed} | {status} |")
        lines += ["", "_Status compares the observed figure at its linear pace with the target; forecasts with "
                      "intervals come from the forecasting stage._", ""]
        lines += [f"_{g['goal_id']} began {g['start']}, {g['unseen_days']} days before the data (from "
                  f"{g['data_from']}): its figure counts only the days since"
                  + (", so its total is not judged against the target._" if g["status"] == "partial data"
                     else ", which already settles it._" if g["aggregation"] == "total" else "._")
                  for g in payload["goals"] if g.get("data_from")]
        lines += [""] if any(g.get("data_from") for g in payload["goals"]) else []
    if payload["segments"]:
        units = {f["metric_id"]: f["unit"] for f in payload["metrics"]}
        lines += ["## Best and worst segments", ""]
        for s in payload["segments"]:
            unit = units.get(s["metric_id"], "")
            best, worst = (_ranked_side(s[side], unit) for side in ("best", "worst"))
            lines.append(f"- **{s['metric_id']}** by {s['segment_level']} ({s['segments_ranked']:,} ranked): "
                         f"best {best}; worst {worst}")
        lines.append("")
    if payload["composites"]:
        lines += ["## Composite scores", ""]
        for c in payload["composites"]:
            parts = ", ".join(f"{p['metric_id']} {fmt(p['value'])} ({NORMALISED[p['normalize']]}, weight {p['weight']:g})"
                              for p in c["components"])
            lines.append(f"- **{c['metric_id']}**: {fmt(c['value'])} from {parts}")
        lines.append("")
    lines += _archetype_lines(payload)
    lines += _what_will_happen(payload)
    lines += _what_to_do(payload, draft)
    if payload["known_events"]:
        lines += ["## Known events in the period", ""]
        lines += [f"- {e['date']}: {e['name']} ({e['kind']}{', ' + e['segment'] if e['segment'] else ''})"
                  for e in payload["known_events"]]
        lines.append("")
    q = payload["data_quality"]
    lines += ["## Data quality", "",
              # counted as events: a wide file's row holds one per measure, so its rows would not add up
              f"- Events received {q['received']:,}, loaded {q['loaded']:,}, quarantined {q['quarantined']:,} "
              f"(received = loaded + quarantined: {'yes' if q['received'] == q['loaded'] + q['quarantined'] else 'NO'}).",
              f"- Last event: {q['last_event'] + ' ' + q.get('timezone', 'UTC') if q['last_event'] else 'none'}."
              + (f" The day {period['data_through']} is cut short: on its weekday in the four weeks before, at least "
                 "10 events came after that hour. Its events count in the figures so far, but no complete period and "
                 "no forecast's history holds it: forecasts take the day as still to come."
                 if period.get("last_day_cut_short") else "")]
    if q.get("days_without_events"):
        gaps = ", ".join(g["start"] if g["days"] == 1 else f"{g['start']} – {g['end']}" for g in q["latest_gaps"])
        in_period, usual = q["days_without_events_in_period"], q.get("closed_days", 0)
        others = q["days_without_events"] - usual
        weekdays = q.get("closed_weekdays") or []  # "Monday, Tuesday and Sunday"
        closed = " and ".join([", ".join(weekdays[:-1]), weekdays[-1]] if len(weekdays) > 2 else weekdays)
        line = f"- Days with no events at all: {q['days_without_events']:,}"
        if usual:
            line += (f", of which {usual:,} on " + (f"the weekdays it is closed ({closed}) or " if closed else "")
                     + "public holidays, as usual"
                     + ("." if not others else f"; {others:,} other day{'s' * (others > 1)}"))
        if others:
            line += (f" (latest: {gaps}); "
                     + (f"{in_period} of them in this period, counted as 0 in its counts and sums (a quiet day, or "
                        "a source that was late: re-run those days when its files land)."
                        if in_period else "none in this period."))
        lines.append(line)
    gaps = q.get("measure_gaps") or {}
    if gaps.get("runs"):
        listed = "; ".join(f"{g['measure']} at {g['segment_id']} on "
                           + (g["start"] if g["days"] == 1 else f"{g['start']} – {g['end']} ({g['days']} days)")
                           for g in gaps["runs"])
        lines.append(f"- A measure missing while its segment sent others ({gaps['days']:,} segment-day"
                     f"{'s' * (gaps['days'] > 1)} from {gaps['from']} to {gaps['through']}): {listed}. Its counts "
                     "and sums take those days as 0 and a ratio over it reads them wrong: a source that stopped, or "
                     "was late (re-run those days when its files land).")
    silent = q.get("segment_gaps") or {}
    if silent.get("runs"):
        listed = "; ".join(f"{g['segment_id']} on "
                           + (g["start"] if g["days"] == 1 else f"{g['start']} – {g['end']} ({g['days']} days)")
                           + f", usually {g['usual_events']:,} events a day" for g in silent["runs"])
        lines.append(f"- A segment without events on days it usually has them, while the others had theirs "
                     f"({silent['days']:,} segment-day{'s' * (silent['days'] > 1)} from {silent['from']} to "
                     f"{silent['through']}): {listed}. Its counts and sums take those days as 0: closed, or a source "
                     "that stopped or was late (re-run those days when its files land).")
    stopped = q.get("stopped_segments") or {}
    if stopped.get("segments"):
        listed = "; ".join(f"{g['segment_id']} (last events {g['last_day']}, usually {g['usual_events']:,} events a "
                           "day before)" for g in stopped["segments"])
        more = stopped["count"] - len(stopped["segments"])
        lines.append(f"- Segments without events since before {stopped['before']}, while the others had theirs: "
                     f"{listed}" + (f", and {more:,} more" if more > 0 else "") + ". Their counts and sums take "
                     "those days as 0: closed, or a source that stopped (re-run those days when its files land).")
    new = q.get("new_segments") or {}
    if new.get("segments"):
        listed = ", ".join(f"{n['segment_id']} (from {n['first_day']})" for n in new["segments"])
        more = new["count"] - len(new["segments"])
        lines.append(f"- New segments, whose first events came on or after {new['since']}: {listed}"
                     + (f", and {more:,} more" if more > 0 else "") + ". The totals hold them from then on.")
    if q["top_reasons"]:
        lines.append("- Top quarantine reasons: " + "; ".join(f"{r['reason']} ({r['rows']:,})" for r in q["top_reasons"]) + ".")
        if q.get("duplicates_by_content") and any(r["reason"] == "duplicate of event" for r in q["top_reasons"]):
            lines.append("- The source maps no event id, so a row of one file with the same time, measure, value and "
                         "segments as a row of another is taken for its copy. If two such rows can be two events "
                         "(exports that each hold a share of one minute's deliveries), name the id column as "
                         "`source.event_id`.")
    lines += ["", "---", "_Figures are observed (measured from ingested events) unless marked predicted; "
              "predicted figures carry their interval. The writer only words them._", ""]
    return "\n".join(lines)


def _ranked_side(ranked: list[dict], unit: str) -> str:
    """The best (or worst) segments named, and how many more share the last one's value: of 4,664 customers,
    the three named at 0 orders are three of 2,101."""
    text = ", ".join(f"{r['segment_id']} ({fmt(r['value'], unit)})" for r in ranked)
    last = ranked[-1] if ranked else {}
    named = sum(r["value"] == last.get("value") for r in ranked)
    more = (last.get("tied") or 0) - named
    return text + (f" and {more:,} more at {fmt(last['value'], unit)}" if more > 0 else "")


def _text_evidence_lines(payload: dict) -> list[str]:
    lines = []
    for f in payload["metrics"]:
        e = f.get("evidence")
        if e:
            conflict = (f"; sources disagree: {e['conflict']}" if e["conflict"] else
                        "; sources disagree (see raw.text_metric_values)" if e["sources_conflict"] else "")
            rejected = f"; the LLM's answer was rejected ({e['rejected_llm_answer']})" if e["rejected_llm_answer"] else ""
            lines.append(f"- _{f['name']}: read by {e['method']} from {e['documents_used']:,} of "
                         f"{e['documents_available']:,} documents{conflict}{rejected}._")
    return lines + [""] if lines else []


def _archetype_lines(payload: dict) -> list[str]:
    a = payload.get("archetypes")
    if not a:
        return []
    who = a["method"] if a["method"].startswith("quadrant") else f"{a['method']} (the quadrant rule's label beside it)"
    reporting = payload["period"].get("reporting_grain", a["grain"])
    finer = ("" if a["grain"] == reporting else " (not days: their changes measure the weekday cycle)"
             if reporting == "day" else f" (fewer than {MIN_PERIODS} complete {reporting}s yet)")
    lines = ["## Segment archetypes (estimated)", "",
             f"{a['segment_level']} segments by {a['metric_id']}: reward = its level over the last complete "
             f"{a['grain']}s{finer}, "
             f"risk = standard deviation of its period-to-period changes in %; classified by {who}.", "",
             "| segment | archetype | quadrant rule | reward | risk |", "|---|---|---|---|---|"]
    lines += [f"| {s['segment_id']} | {s['archetype']} | {s['rule_archetype']} | {fmt(s['reward'])} | "
              f"{fmt_share(s['risk'])} |" for s in a["segments"]]
    return lines + [""]


BASELINE_WORDS = {"previous": "the previous period", "year_ago": "a year before"}


def _driver_words(driver: dict, unit: str, *levels: float | None) -> str:
    """"event shock -€240 (Road works)": a factor, its contribution (a difference of the metric's ``levels``)
    and what drove it."""
    return (f"{driver['factor'].replace('_', ' ')} {fmt_delta(driver['contribution'], unit, *levels)}"
            + (f" ({driver['driver']})" if driver["driver"] else ""))


def _why_it_changed(payload: dict) -> list[str]:
    entries = payload.get("why_it_changed") or []
    if not entries:  # no decompositions yet (a young budget), but a day's new level is told
        shifts = _level_shift_lines(payload) + _episode_lines(payload)
        return ["## Why it changed (attribution estimated)", *shifts[1:], ""] if shifts else []
    told, quiet = _narrated_changes(entries, _units(payload), BASELINE_WORDS)
    lines = ["## Why it changed (attribution estimated)", "", *told]
    if quiet and not told:  # say so rather than leave the section empty
        lines += ["No change beyond normal variation to explain (" + ", ".join(quiet) + ")."]
    elif quiet:
        lines += ["", "_Within normal variation, so not narrated: " + ", ".join(quiet) + "._"]
    lines += _quiet_shock_lines(payload)
    lines += _level_shift_lines(payload)
    lines += _episode_lines(payload)
    lines += ["", "_Each change is split into temporal variance, event shocks, influence drift, dimension drift, "
                  "component drift and a residual that add up to it exactly (table drift_attributions)._", ""]
    return lines


def _quiet_shock_lines(payload: dict) -> list[str]:
    """Shocks inside changes within normal variation: '- 2026-10-14..2026-10-15, unexplained: deliveries -232
    in north (robust z 10.9); …'."""
    shocks = payload.get("quiet_shocks") or []
    if not shocks:
        return []
    units = _units(payload)
    lines = ["", "Shocks inside changes within normal variation (abnormal part estimated, against the previous "
                 "period):", ""]
    for shock in shocks:
        told = "; ".join(f"{m['metric_id']} {fmt_delta(m['contribution'], units.get(m['metric_id'], ''))} "
                         f"{_scope_words(m['segment'])} "
                         f"(robust z {m['robust_z']:.1f})" for m in shock["metrics"])
        lines.append(f"- {shock['span']}, {shock['event'] or 'unexplained (no known event matches)'}: {told}.")
    return lines


def _scope_words(segment: str | None) -> str:
    """'at the total' or 'in north/n3'."""
    return "at the total" if segment is None else f"in {segment}"


def _level_shift_lines(payload: dict) -> list[str]:
    """New levels: '- From 2026-10-20: late_rate 5.3% → 21.7% (+16.4 pts) in north/n3 (z 13.7; 90 days before, 29
    after).'"""
    return _grouped_lines(
        payload.get("level_shifts") or [], _units(payload),
        "New levels (the day from which a metric's days held a new level; an average day, weekday pattern removed; "
        "estimated):",
        lambda m, unit: f" (z {abs(m['z']):.1f}; {m['days_before']} days before, {m['days_after']} after)")


def _episode_lines(payload: dict) -> list[str]:
    """Episodes: '- From 2026-09-21: leads 227 → 132 (-42.1%) at the total until 2026-10-11, back to 235 after
    (z 19.1; 21 days, 20 after).'"""
    return _grouped_lines(
        payload.get("episodes") or [], _units(payload),
        "Passing episodes (days a metric spent at another level before going back to the one before; an average "
        "day, weekday pattern removed; estimated):",
        lambda m, unit: f" until {m['to']}, back to "
                        f"{fmt(m['level_back'], unit, m['level_before'], m['level_after'])} after"
                        f" (z {abs(m['z']):.1f}; {m['days_after']} days, {m['days_back']} after)")


def _grouped_lines(groups: list[dict], units: dict, header: str, rest) -> list[str]:
    """One line a group of shifts or episodes of the same days: '- From <day> (<event>): <metric's levels and
    scope> (from <its own day>)<rest(metric, unit)>; …'."""
    if not groups:
        return []
    lines = ["", header, ""]
    for group in groups:
        told = "; ".join(
            _levels_words(m, units.get(m["metric_id"], ""))
            + (f" (from {m['from']})" if m["from"] != group["from"] else "")
            + rest(m, units.get(m["metric_id"], "")) for m in group["metrics"])
        lines.append(f"- From {group['from']}" + (f" ({group['event']})" if group["event"] else "") + f": {told}.")
    return lines


def _levels_words(m: dict, unit: str) -> str:
    """'late_rate 5.3% → 21.7% (+16.4 pts) in north/n3': a shift's or an episode's two levels and its scope."""
    levels = (m["level_before"], m["level_after"], m.get("level_back"))
    return (f"{m['metric_id']} {fmt(m['level_before'], unit, *levels)} → {fmt(m['level_after'], unit, *levels)}"
            + (f" ({fmt_change(m['change_pct'], m['change'], unit, *levels)})"
               if m["change_pct"] is not None or m["change"] is not None else "")
            + f" {_scope_words(m['segment'])}")


WEEK_BASELINE_WORDS = {"previous": "the week before", "year_ago": "a year before"}


def _latest_week(payload: dict) -> list[str]:
    """The latest complete week after a monthly briefing's month: its changes beyond normal variation."""
    week = payload.get("latest_week")
    if not week or not week["changes"]:
        return []
    told, quiet = _narrated_changes(week["changes"], _units(payload), WEEK_BASELINE_WORDS)
    lines = [f"## Since then: the week of {week['start']} – {week['end']} (attribution estimated)", ""]
    if not told:
        return lines + ["No change beyond normal variation in the latest week (" + ", ".join(quiet) + ").", ""]
    lines += told
    if quiet:
        lines += ["", "_Within normal variation, so not narrated: " + ", ".join(quiet) + "._"]
    return lines + ["", "_The month is reported once it is complete; the drift stage decomposes the latest complete "
                        "week too, judged against past weeks' changes._", ""]


def _units(payload: dict) -> dict[str, str]:
    return {f["metric_id"]: f["unit"] for f in payload["metrics"]}


def _narrated_changes(entries: list[dict], units: dict[str, str], baselines: dict[str, str]
                      ) -> tuple[list[str], list[str]]:
    """One line per change beyond normal variation (its drivers, and where the largest came from), and the
    names of the comparisons within it."""
    told, quiet = [], []
    for entry in entries:
        unit = units.get(entry["metric_id"], "")
        quiet += [f"{entry['metric_id']} vs {baselines.get(c['baseline'], c['baseline'])}"
                  for c in entry["comparisons"] if c["verdict"] != "material"]
        for c in (c for c in entry["comparisons"] if c["verdict"] == "material"):
            levels = (c["baseline_value"], c["value"])
            z = "" if c["delta_z"] is None else f", z {c['delta_z']:+.1f}"
            if c["delta_z"] is not None and c["delta_z"] * c["delta"] < 0:  # a change against a usual one
                usual = "" if c.get("usual_delta") is None else f" of {fmt_delta(c['usual_delta'], unit, *levels)}"
                z = f", a {'rise' if c['delta'] > 0 else 'fall'} smaller than the usual one{usual}{z}"
            drivers = "; ".join(_driver_words(d, unit, *levels) for d in c["top_drivers"]
                                ) or "unchanged, where every past change was the same non-zero amount"
            within = "".join(f"; within {w['segment']}" + ("" if w["metric_id"] == entry["metric_id"] else
                                                                f" ({w['metric_id']})")
                             + ", " + _driver_words(w, units.get(w["metric_id"], "")) for w in c.get("within") or [])
            change = fmt_delta(c["delta"], unit, *levels)
            told.append(f"- **{entry['metric_id']}** {fmt(c['baseline_value'], unit, *levels)} → "
                        f"{fmt(c['value'], unit, *levels)} vs "
                        f"{baselines.get(c['baseline'], c['baseline'])} (change {change}{z}, "
                        f"beyond normal variation): {drivers}{within}.")
        if entry.get("chart"):
            told += ["", f"![{entry['metric_id']} waterfall]({entry['chart']})", ""]
    return told, quiet


def _year_note(allocation: dict) -> str:
    first = allocation.get("fiscal_year_start", 1)
    if first == 1 or allocation["period"] == "month":
        return ""
    return f" (years from {calendar.month_name[first]} to {calendar.month_name[(first - 2) % 12 + 1]})"


def _allocation_lines(allocation: dict) -> list[str]:
    """Spending against the allocation per period in view: observed so far, and predicted at the period's end."""
    currency, metric = allocation["currency"], allocation.get("metric")
    if metric is None:
        return [f"_Spending is not tracked against the allocation: no single summed metric in {currency} reads "
                "as the spending (none that is not favourable up, as a revenue is, or several); name it as "
                "`allocation.metric` in the spec._", ""]
    lines = [f"## Spending against the allocation ({metric})", ""]
    amount = allocation["amount"]
    for p in allocation.get("periods") or []:
        head = f"- **{p['label']}** ({p['start']} – {p['end']}): "
        if p["spent"] is None:
            lines.append(head + "no spending in the data for it.")
            continue
        share = f"{fmt_share(p['share_of_allocation'])} of the allocation"
        only = f", counting the days from {p['data_from']} only" if p.get("data_from") else ""
        if p["finished"]:
            left = amount - p["spent"]
            # the days before the data could only add to an overspend, never make an unspent amount certain
            outcome = (f", over it by {fmt(-left, currency)}" if left < 0 else
                       "" if p.get("data_from") else f", {fmt(left, currency)} unspent")
            lines.append(head + f"{fmt(p['spent'], currency)} spent, {share}{outcome}{only} (observed).")
            continue
        line = (head + f"{fmt(p['spent'], currency)} spent to {p['observed_through']}, {share} with "
                f"{fmt_share(p['elapsed_share'])} of the {allocation['period']} gone{only} (observed)")
        if p["projected"] is not None and p["status"] != "partial_data":
            chance = fmt_chance(p["chance_within"], settled=p["spent"] > amount)  # already over it
            line += (f"; predicted {fmt(p['projected'], currency)} by its end (95%: "
                     f"{fmt(p['projected_low95'], currency)} – {fmt(p['projected_high95'], currency)}), "
                     f"{chance} chance of staying within it")
        lines.append(line + ".")
    return lines + [""]


def _past_ceiling(goal: dict) -> bool:
    """A ceiling the goal is past already: the days left would have to be negative."""
    return bool(goal.get("ceiling")) and (goal["required_daily_rate"] or 0) < 0


def _settled(goal: dict) -> bool:
    """The chance is no simulation's: the deadline has passed, or a ceiling is passed already."""
    return goal["status"] in ("achieved", "missed") or _past_ceiling(goal)


def _what_will_happen(payload: dict) -> list[str]:
    ahead = payload.get("what_will_happen") or {}
    if not ahead.get("goals") and not ahead.get("forecast"):
        return []
    units = {f["metric_id"]: f["unit"] for f in payload["metrics"]}
    lines = ["## What will happen (predicted)", ""]
    if ahead.get("goals"):
        lines += ["| goal | target | projected at deadline (95% interval) | chance of reaching it | status | binding input |",
                  "|---|---|---|---|---|---|"]
        for g in ahead["goals"]:
            unit = units.get(g["metric_id"], "")
            chance = fmt_chance(g["probability"], settled=_settled(g))
            if g["status"] in ("achieved", "missed"):  # the deadline has passed: the figure is the observed one
                outcome = f"observed {fmt(g['projected'], unit)}"
            else:
                outcome = (f"predicted {fmt(g['projected'], unit)} ({fmt(g['projected_low95'], unit)} – "
                           f"{fmt(g['projected_high95'], unit)})")
            if g.get("data_from"):
                outcome += f", the days from {g['data_from']} only"
            lines.append(f"| {g['goal_id']} ({g['metric_id']}, by {g['deadline']}) | {fmt(g['target'], unit)} "
                         f"| {outcome} | {chance} | {g['status'].replace('_', ' ')} | {g['binding_input'] or 'n/a'} |")
        lines.append("")
        for g in ahead["goals"]:
            blocked = [i for i in g["inputs"] if i["status"] in ("stretch", "infeasible")]
            if _past_ceiling(g):
                blocked = []  # past its ceiling already: the run-rate line says so ("needs -131%" would not)
            for i in blocked:
                if i["status"] == "infeasible" and i["required_change"] < -1:
                    # beyond -100%: the days left would have to bring the input to the other side of zero, which
                    # no percentile of history measures ("needs bonuses to change by -6840.3%")
                    lines.append(f"- **{g['goal_id']}** is out of reach through {i['metric_id']} alone: the time left "
                                 f"would have to bring it to the other side of zero (a change of "
                                 f"{fmt_pct(i['required_change'])}).")
                    continue
                lines.append(f"- **{g['goal_id']}** needs {i['metric_id']} to change by {fmt_pct(i['required_change'])} "
                             f"over the time left; history's 95th percentile for such a stretch is "
                             f"{fmt_pct(i['historical_p95_change'])}: {i['status']} by history alone"
                             + (f", though the forecast still gives the goal {g['probability'] * 100:.0f}%."
                                if g["status"] == "at_risk" and g["probability"] else "."))
            if g["required_daily_rate"] is not None and g["status"] not in ("achieved", "missed"):
                lines.append(_run_rate_line(g, units.get(g["metric_id"], ""),
                                            g.get("current_rate_days") or ahead["current_rate_days"]))
        lines.append("")
    if ahead.get("forecast"):
        unit = units.get(ahead["north_star"], "")
        shown = ahead["forecast"][:6]
        current = next((p for p in shown if p.get("observed_to_date") is not None), None)
        method = shown[-1]["method"].removesuffix(f", {SCALED}")
        lines += [f"**{ahead['north_star']}**, next {len(shown)} {ahead['grain']}s (predicted, {method}):", "",
                  "| period | predicted | 80% interval | 95% interval |", "|---|---|---|---|"]
        lines += [f"| {p['period_start']}{' (in progress)' if p is current else ''} | {fmt(p['value'], unit)} "
                  f"| {fmt(p['low80'], unit)} – {fmt(p['high80'], unit)} "
                  f"| {fmt(p['low95'], unit)} – {fmt(p['high95'], unit)} |" for p in shown]
        lines.append("")
        if current is not None:
            later = any(p["method"].endswith(SCALED) for p in shown)
            lines += [f"_The month in progress is the {fmt(current['observed_to_date'], unit)} observed to "
                      f"{current['as_of']} plus the daily forecast of its other days, "
                      f"{current['scale']:.2f} times the monthly forecast of it"
                      + ("; the months after it are scaled alike, as goals take them" if later else "") + "._", ""]
        if ahead.get("chart"):
            lines += [f"![{ahead['north_star']} fan chart]({ahead['chart']})", ""]
    return lines


def _run_rate_line(goal: dict, unit: str, days: int) -> str:
    """The daily rate a total goal asks of the days left: a need for a target to reach, an allowance for a
    ceiling (an allocation, a goal on a metric whose favourable direction is down)."""
    rate, now = goal["required_daily_rate"], fmt(goal["current_daily_rate"], unit)
    pace = f"the last {days} days ran at {now} per day." if days > 1 else f"the last day ran at {now}."
    if goal.get("ceiling"):
        if rate < 0:
            return f"- **{goal['goal_id']}** is already past its ceiling of {fmt(goal['target'], unit)}; {pace}"
        return f"- **{goal['goal_id']}** stays within its ceiling at up to {fmt(rate, unit)} per day from here; {pace}"
    if rate <= 0:
        return f"- **{goal['goal_id']}** has already reached its target of {fmt(goal['target'], unit)}; {pace}"
    return f"- **{goal['goal_id']}** needs {fmt(rate, unit)} per day from here; {pace}"


def _summary_lines(payload: dict, draft: dict | None) -> list[str]:
    if draft is None:
        return ["## Summary", "", summary_text(payload), ""]
    lines = [f"## {draft['headline'].strip()}", ""]
    for section in draft["sections"]:
        lines += [f"### {section['title'].strip()}", "", section["body"].strip(), ""]
    return lines


def summary_text(payload: dict) -> str:
    """A plain summary: the north star, then every notable change, from the payload only."""
    metrics = payload["metrics"]
    star = next((f for f in metrics if f["is_north_star"]), None)
    sentences = []
    if star is not None:
        sentences.append(
            f"{star['name'].capitalize()} (north star) was {fmt(star['value'], star['unit'])} in the period, "
            f"{fmt_change(star['change_pct'], star['change'], star['unit'])} against the previous period "
            f"({star['assessment']}).")
    notable = [f for f in metrics if f["assessment"] in ("improved", "worsened", "changed") and not f["is_north_star"]]
    for f in notable[:5]:
        levels = (f["previous_value"], f["value"])
        sentences.append(f"{f['name'].capitalize()} {f['assessment']}: "
                         f"{fmt(f['previous_value'], f['unit'], *levels)} → {fmt(f['value'], f['unit'], *levels)} "
                         f"({fmt_change(f['change_pct'], f['change'], f['unit'], *levels)}).")
    if not notable:
        others = [f for f in metrics if not f["is_north_star"] and f["assessment"] != "not comparable"]
        unjudged = sum(f["assessment"] == "too little history to judge" for f in others)
        if others and unjudged == len(others):
            # 'no other metric moved' would claim a judgement none of them could have
            sentences.append("The other metrics' changes have too little history to judge yet.")
        else:
            sentences.append("No other metric moved beyond its normal period-to-period variation"
                             + (f" ({unjudged} with too little history to judge)." if unjudged else "."))
    sentences += _latest_week_summary(payload)
    # a goal the forecasting stage projected is judged by its projection (the season ahead, the chance), not by
    # the linear pace of its observed figure: a heating budget spends its winter months later
    predicted = {g["goal_id"]: g for g in (payload.get("what_will_happen") or {}).get("goals", [])}
    off = [g for g in payload["goals"] if g["goal_id"] not in predicted and g["status"] in ("behind", "over pace")]
    if off:
        sentences.append("Off pace: " + ", ".join(f"{g['goal_id']} ({g['status']})" for g in off) + ".")
    risky = [g for g in predicted.values() if g["status"] in ("at_risk", "stretch", "infeasible")]
    if risky:
        sentences.append("Goals at risk (predicted): " + ", ".join(
            f"{g['goal_id']} ({g['status'].replace('_', ' ')}: {fmt_chance(g['probability'], _settled(g))} chance)"
            for g in risky) + ".")
    return " ".join(sentences)


def _latest_week_summary(payload: dict) -> list[str]:
    """A sentence on the headline metrics that moved beyond normal variation in the week after the month."""
    week = payload.get("latest_week")
    names = {f["metric_id"]: (f["name"], f["unit"]) for f in payload["metrics"]}
    moved = [(names[e["metric_id"]], c) for e in (week or {}).get("changes", []) if e["headline"]
             for c in e["comparisons"] if c["baseline"] == "previous" and c["verdict"] == "material"]
    if not moved:
        return []
    return [f"In the latest week ({week['start']} – {week['end']}) " + ", ".join(
        f"{name} moved {fmt(c['baseline_value'], unit, c['value'])} → {fmt(c['value'], unit, c['baseline_value'])} "
        "against the week before"
        for (name, unit), c in moved) + ", beyond normal variation (see \"Since then\")."]


def _action_text(action: dict, currency: str) -> str:
    """What a fired rule does: its type, an allocation's amount (in the allocation's currency) and target, and its
    message ("allocate €5,000 to support_staffing: Add an agent to the slow queue")."""
    what = action["action_type"]
    if action.get("amount") is not None:
        what += f" {fmt(action['amount'], currency)} to {action.get('target')}"
    return f"{what}: {action['message']}" if action.get("message") else what


def _what_to_do(payload: dict, draft: dict | None = None) -> list[str]:
    """Fired rules (deterministic), the recommended allocation (predicted), the writer's weighed recommendations."""
    actions, allocation = payload.get("actions") or [], payload.get("allocation")
    followed = payload.get("decision_outcomes") or []
    weighed = (draft or {}).get("recommendations") or []
    if not actions and not allocation and not followed and not weighed:
        return []
    lines = ["## What should we do", ""]
    if followed:
        lines += ["What followed earlier decisions (observed):", ""]
        lines += [f"- {o['summary']}" + (f" (the latest of {o['earlier'] + 1} alike)" if o.get("earlier") else "")
                  for o in followed]
        lines.append("")
    if actions:
        lines += ["| rule | period | segment | saw | classification | action |", "|---|---|---|---|---|---|"]
        for a in actions:
            cls = a["classification"]
            label = "/".join(p for p in (cls["kind"], cls["type"], cls["detail"]) if p)
            ranges = a.get("trigger_ranges") or {}
            saw = ", ".join(f"{k} = {fmt(v)}" + (f" ({fmt(ranges[k][0])} – {fmt(ranges[k][1])} over the run)"
                                                 if k in ranges else "") for k, v in a["trigger_values"].items())
            period = f"{a['period_grain']} {a['period_start']}"
            if a.get("periods", 1) > 1:
                period += f" – {a['period_last']} ({a['periods']} {a['period_grain']}s running)"
            lines.append(f"| {a['rule_id']} | {period} | {a['segment_id']} | {saw} "
                         f"| {label} | {_action_text(a, payload['budget']['allocation']['currency'])} |")
        lines += ["", "_Rules decide programmed decisions and actions deterministically; non-programmed decisions "
                      "need the owner's judgement._", ""]
    if allocation and "not_estimated" in allocation:
        lines += [f"No reallocation is recommended yet: {allocation['not_estimated']}.", ""]
    elif allocation and "infeasible" in allocation:
        lines += [f"Reallocation is impossible as specified: {allocation['explanation']}", ""]
    elif allocation:
        demand = allocation.get("demand_ahead")
        shared = (f" at the next {allocation['grain']}'s demand, {demand:.2f} times the fitted {allocation['grain']}s' "
                  "average" if demand is not None and abs(demand - 1) > 1e-9 else "")
        lines += [f"Recommended {allocation['lever_metric']} per {allocation['grain']} (predicted, from response "
                  f"curves fitted on history{shared}; basis {allocation['basis_period']}):", "",
                  "| segment | current | recommended | change | curve |", "|---|---|---|---|---|"]
        for lever in allocation["levers"]:
            lines.append(f"| {lever['segment_id']} | {fmt(lever['current'])} | {fmt(lever['recommended'])} "
                         f"| {fmt(lever['change'])} | {lever['curve_form']} |")
        held = [lever for lever in allocation["levers"] if lever.get("held")]
        if held:
            lines += [""] + [f"- {lever['segment_id']}: {lever['held']}." for lever in held]
        beyond = [lever for lever in allocation["levers"] if lever.get("extrapolated")]
        if beyond:
            lines += [""] + [f"- {lever['segment_id']}: {fmt(lever['recommended'])} lies outside the "
                             f"{allocation['lever_metric']} its curve was fitted on ({fmt(lever['observed_low'])} – "
                             f"{fmt(lever['observed_high'])}): what it expects there is extrapolated; consider "
                             "optimization.bounds." for lever in beyond]
        budget, spent = allocation.get("budget"), allocation.get("recommended_total")
        maximised = allocation.get("objective_sense", "maximise") == "maximise"
        if maximised and budget and spent is not None and spent < budget * (1 - 1e-3):
            lines += ["", f"The recommendation spends {fmt(spent)} of the {fmt(budget)} available: more would not add "
                          f"{allocation['objective_metric']}."]
        low, high = allocation["expected_gain_interval90"]
        change = "a gain of" if maximised else "a change of"
        if all(abs(lever["change"]) <= 1e-9 * max(1.0, abs(lever["current"])) for lever in allocation["levers"]):
            lines += ["", "History supports no reallocation: every lever stays where it is."]
        else:
            lines += ["", f"Expected {allocation['objective_metric']}: {fmt(allocation['expected_objective_current'])} → "
                          f"{fmt(allocation['expected_objective_recommended'])} per {allocation['grain']}, {change} "
                          f"{fmt(allocation['expected_gain'])} (90% interval {fmt(low)} to {fmt(high)}; predicted)."]
            if low <= 0 <= high:
                lines.append("The interval includes zero: history does not yet show this reallocation would help; "
                             "treat it as a direction to test, not a decision.")
        if allocation["bottleneck"]:
            lines.append(allocation["bottleneck"])
        lines.append("")
    if weighed:
        lines += ["Recommendations (weighed by the LLM from the payload; its judgement, not a rule's):", ""]
        lines += [f"- **{_class_label(r['classification'])}**"
                  + (f" [{r['metric_id']}]" if r.get("metric_id") else "") + f": {r['text'].strip()}" for r in weighed]
        lines.append("")
    return lines


def _class_label(c: dict) -> str:
    """'Decision (programmed: focus)', 'Action (quality: above par)' and so on."""
    detail = f": {c['detail'].replace('_', ' ')}" if c.get("detail") else ""
    return f"{c['kind'].capitalize()} ({c['type'].replace('_', '-')}{detail})"
