"""Budget specs: one YAML file per budget, validated into typed objects.

A spec is metrics-first and segmentation-first: the segment levels (top to
lowest), the raw measures, the metrics built on them (base aggregates, derived
formulas, weighted composite scores), their place in the value chain, declared
relationships, goals, rules, a calendar of known events and where the data
comes from. Every error names the file, the key path and what is wrong.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Annotated, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.formula import Expr, FormulaError, linear_terms, parse_formula, references, substitute
from models.public_holidays import calendar_problem, holidays_between
from models.rules import Condition, parse_condition

NAME_RE = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_RE, description="lower_snake_case identifier")]

Grain = Literal["day", "week", "month"]
ALLOCATION_GOAL_PREFIX = "allocation_"
Role = Literal["input", "output", "leading", "lagging", "diagnostic", "north_star"]
Classification = Literal[
    "qualitative", "quantitative", "vanity", "actionable", "efficiency",
    "effectiveness", "strategic", "tactical", "operational",
]
Aggregate = Literal["count", "sum", "mean", "min", "max", "variance", "distinct_count"]


# Metrics every budget carries: the pipeline's own LLM spending for it (from raw.llm_calls).
# metric id -> (name, aggregation, unit, description)
SYSTEM_METRICS = {
    "llm_calls": ("LLM calls", "count", "calls", "Calls to the LLM for this budget (briefing, text metrics, "
                  "archetypes), failed and rejected ones included."),
    "llm_input_tokens": ("LLM input tokens", "sum", "tokens", "Prompt tokens, cached ones included."),
    "llm_output_tokens": ("LLM output tokens", "sum", "tokens", "Tokens the LLM wrote."),
    "llm_cost_usd": ("LLM cost", "sum", "USD", "What the calls cost at the model's price (USD)."),
}


class SpecError(ValueError):
    """One or more problems in budget specs, each as ``file: key.path: message``."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        lines = [f"{file}: {key or '<root>'}: {message}" for file, key, message in problems]
        super().__init__("invalid budget spec\n  " + "\n  ".join(lines))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Allocation(_Strict):
    amount: float = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    period: Literal["month", "quarter", "year"]
    metric: Name | None = Field(default=None, description=(
        "the summed metric spent against the allocation; default the one base sum metric in its currency"))
    fiscal_year_start: int = Field(default=1, ge=1, le=12, description=(
        "month the budget's year begins (4: April to March); its quarters count from it"))


class Segments(_Strict):
    levels: list[Name] = Field(min_length=1, description="top level first, lowest (leaf) level last")
    attributes: dict[Name, dict[str, dict[Name, str]]] = Field(
        default_factory=dict, description="level -> segment value -> attribute -> attribute value"
    )

    @field_validator("levels")
    @classmethod
    def _unique_levels(cls, levels: list[str]) -> list[str]:
        dupes = sorted({lvl for lvl in levels if levels.count(lvl) > 1})
        if dupes:
            raise ValueError(f"duplicate segment level(s): {', '.join(dupes)}")
        return levels

    @property
    def leaf(self) -> str:
        return self.levels[-1]


class Measure(_Strict):
    unit: str = ""
    description: str = ""
    min: float | None = None
    max: float | None = None


class Normalize(_Strict):
    method: Literal["none", "range", "zscore"] = "none"
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> "Normalize":
        if self.method == "range":
            if self.min is None or self.max is None or self.max <= self.min:
                raise ValueError("range normalisation needs min < max")
        return self


class Component(_Strict):
    metric: Name
    weight: float
    normalize: Normalize = Normalize()


class Composite(_Strict):
    components: list[Component] = Field(min_length=1)


class TextSource(_Strict):
    """A qualitative metric read from documents (raw.documents) per period and segment."""

    kinds: list[Name] = Field(min_length=1, description="document kinds to read, e.g. ticket, meeting_note, chat")
    question: str = Field(min_length=10, description="what the value rates, asked of each period and segment")
    min: float = Field(description="lowest valid value (validation rule)")
    max: float = Field(description="highest valid value (validation rule)")
    min_confidence: float = Field(default=0.5, ge=0, le=1, description="values read with less confidence are not used")
    token_budget: int = Field(default=3000, ge=200, le=100_000, description="tokens of documents one reading may use")
    grain: Grain | None = Field(default=None, description="period of a reading; default the reporting grain")
    level: Name | None = Field(default=None, description="segment level read besides the budget total")

    @model_validator(mode="after")
    def _range(self) -> "TextSource":
        if self.max <= self.min:
            raise ValueError(f"max ({self.max:g}) must be above min ({self.min:g})")
        return self


class Metric(_Strict):
    name: str = ""
    description: str = ""
    measure: Name | None = None
    agg: Aggregate | None = None
    of: Name | None = Field(default=None, description="segment level counted by distinct_count")
    formula: str | None = None
    composite: Composite | None = None
    text: TextSource | None = Field(default=None, description="a qualitative metric read from documents")
    step: Name
    roles: list[Role] = Field(default_factory=list)
    classification: list[Classification] = Field(default_factory=list)
    # default up, but neutral for a variance: a wider spread of ticket sizes is neither better nor worse
    favourable: Literal["up", "down", "neutral"] = Field(
        default_factory=lambda data: "neutral" if data.get("agg") == "variance" else "up")
    unit: str = ""

    @model_validator(mode="after")
    def _one_definition(self) -> "Metric":
        kinds = [k for k, present in (("measure", self.measure is not None),
                                      ("formula", self.formula is not None),
                                      ("composite", self.composite is not None),
                                      ("text", self.text is not None)) if present]
        if len(kinds) != 1:
            raise ValueError("define exactly one of measure (+ agg), formula, composite or text"
                             + (f"; found {', '.join(kinds)}" if kinds else ""))
        if self.measure is not None and self.agg is None:
            raise ValueError("a base metric needs agg (count, sum, mean, min, max, variance, distinct_count)")
        if self.measure is None and (self.agg is not None or self.of is not None):
            raise ValueError("agg and of only apply to base metrics (with measure)")
        if (self.agg == "distinct_count") != (self.of is not None):
            raise ValueError("distinct_count needs of: <segment level>, and of only applies to distinct_count")
        return self

    @property
    def kind(self) -> Literal["base", "derived", "composite", "qualitative"]:
        if self.measure is not None:
            return "base"
        if self.text is not None:
            return "qualitative"
        return "derived" if self.formula is not None else "composite"


class Relationship(_Strict):
    source: Name = Field(alias="from")
    target: Name = Field(alias="to")
    type: Literal["probabilistic", "causal"]
    lag_days: int = Field(default=0, ge=0, le=366)
    description: str = ""


class Goal(_Strict):
    id: Name
    metric: Name
    target: float
    deadline: dt.date
    start: dt.date | None = None
    aggregation: Literal["total", "average", "last"] = Field(
        default="total", description="how the metric over start..deadline is compared to the target")
    direction: Literal["at_least", "at_most"] | None = Field(default=None, description=(
        "a target to reach (at_least) or a ceiling (at_most); default from the metric: at_most when it is "
        "favourable down"))


class Action(_Strict):
    type: Literal["flag", "notify", "allocate"]
    message: str = ""
    target: str | None = None
    amount: float | None = None

    @model_validator(mode="after")
    def _allocate_fields(self) -> "Action":
        if self.type == "allocate" and (self.target is None or self.amount is None):
            raise ValueError("an allocate action needs target and amount")
        return self


DETAILS = {
    ("decision", "programmed"): {"focus", "remove"},
    ("decision", "non_programmed"): {None},
    ("action", "quantity"): {"more"},
    ("action", "quality"): {"unique", "best", "above_par", "on_par", "below_par"},
}


class Classification(_Strict):
    """Decision (programmed: focus/remove; non-programmed) or Action (quantity: more; quality: unique/best/...)."""

    kind: Literal["decision", "action"]
    type: Literal["programmed", "non_programmed", "quantity", "quality"]
    detail: Literal["focus", "remove", "more", "unique", "best", "above_par", "on_par", "below_par"] | None = None

    @model_validator(mode="after")
    def _valid_combination(self) -> "Classification":
        allowed = DETAILS.get((self.kind, self.type))
        if allowed is None:
            raise ValueError(f"a {self.kind} cannot be of type {self.type}; use "
                             + ", ".join(f"{k}/{t}" for k, t in DETAILS))
        if self.detail not in allowed:
            raise ValueError(f"{self.kind}/{self.type} takes detail "
                             + (" or ".join(sorted(d for d in allowed if d)) if allowed != {None} else "none")
                             + f", got {self.detail!r}")
        return self


class RuleScope(_Strict):
    level: Name | None = Field(default=None, description="segment level the rule is evaluated at; none = total")


class Rule(_Strict):
    id: Name
    when: str
    scope: RuleScope = RuleScope()
    period: Grain = "week"
    action: Action
    classify: Classification | None = Field(default=None, description="default: allocate -> action/quantity/more, "
                                            "flag and notify -> decision/non_programmed")

    @property
    def classification(self) -> Classification:
        if self.classify is not None:
            return self.classify
        if self.action.type == "allocate":
            return Classification(kind="action", type="quantity", detail="more")
        return Classification(kind="decision", type="non_programmed")


# kinds of declared event that change things from their date on, unless an end date says otherwise
LASTING_KINDS = ("price_change", "launch")


class KnownEvent(_Strict):
    date: dt.date
    end_date: dt.date | None = None
    name: str = Field(min_length=1)
    kind: Literal["launch", "price_change", "outage", "campaign", "holiday", "other"] = "other"
    level: Name | None = None
    segment: str | None = None

    @property
    def last_day(self) -> dt.date | None:
        """The event's last day: its end date, else its own date; None for a change that lasts from its date on
        (a price change or launch without an end date)."""
        if self.end_date is not None:
            return self.end_date
        return None if self.kind in LASTING_KINDS else self.date


class HolidayCalendar(_Strict):
    """A country's (or region's) public holidays, as known events of kind holiday, for the budget or one segment."""

    country: str = Field(min_length=2, description="ISO 3166-1 code, e.g. US, DE, GB (any case)")
    subdivision: str | None = Field(default=None, description="state or province code, e.g. CA, BY")
    level: Name | None = None
    segment: str | None = None

    @field_validator("country", "subdivision")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value if value is None else value.strip().upper()

    @property
    def label(self) -> str:
        return self.country + (f"-{self.subdivision}" if self.subdivision else "")


class LeverBounds(_Strict):
    min: float = Field(default=0.0, ge=0)
    max: float | None = Field(default=None, ge=0)
    step: float | None = Field(default=None, gt=0, description="allocate in whole multiples (a hire, a booked day)")


class MetricBound(_Strict):
    """A cap or floor on another metric's total over the levers (e.g. tickets <= 500, new customers >= 200)."""

    metric: Name
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> "MetricBound":
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        if self.max is not None and self.min is not None and self.max < self.min:
            raise ValueError(f"max ({self.max:g}) is below min ({self.min:g})")
        return self


class LeverRatio(_Strict):
    numerator: str
    denominator: str
    max_ratio: float = Field(gt=0)


class Optimization(_Strict):
    """Reallocate a spend metric across the segments of one level to maximise (or minimise) a metric."""

    objective: Name = Field(description="metric to maximise or minimise (a base count or sum; may be the lever)")
    sense: Literal["maximise", "minimise"] = "maximise"
    lever: Name = Field(description="spend metric to allocate (a base sum)")
    level: Name = Field(description="segment level whose segments are the levers")
    grain: Grain = "week"
    budget: float | None = Field(default=None, gt=0, description="total lever per period; default: the current total")
    capacity: float | None = Field(default=None, gt=0, description="most of the objective that can be absorbed per period")
    bounds: dict[str, LeverBounds] = Field(default_factory=dict, description=(
        "segment (its value, or its path where the value repeats at the level) -> min/max of the lever"))
    ratios: list[LeverRatio] = Field(default_factory=list)
    limits: list[MetricBound] = Field(default_factory=list, description="caps and floors on other metrics")
    history_periods: int = Field(default=26, ge=6, le=520)
    extrapolate: bool = Field(default=False, description=(
        "let a lever leave the spend its curves were fitted on, limited by its bounds only; by default each lever "
        "stays between the lowest and highest spend of its history (within its bounds), widened only as far as "
        "an explicit budget needs"))


class Archetypes(_Strict):
    """How segments are placed on reward against risk (see models.archetypes)."""

    level: Name | None = Field(default=None, description="segment level classified; default the top level")
    metric: Name | None = Field(default=None, description="metric whose level is the reward; default the north star")
    periods: int = Field(default=12, ge=4, le=120, description="latest complete periods used")


def _landing_pattern(pattern: str) -> str:
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise ValueError("pattern must stay inside the landing folder (relative, no '..')")
    return pattern


class DocumentSource(_Strict):
    """Free-text documents (tickets, meeting notes, chat) landed as files, for ``text`` metrics."""

    pattern: str = Field(min_length=1, description="glob under the landing folder; files it matches hold documents, "
                                                   "never events")
    timestamp: str = "timestamp"
    timezone: str | None = Field(default=None, description="zone of naive timestamps; default the source's")
    text: str = Field(default="text", description="column holding the document's text")
    kind: Name | None = Field(default=None, description="the kind of every document of these files (e.g. ticket)")
    kind_column: str | None = Field(default=None, description="column holding each document's kind")
    doc_id: str | None = Field(default=None, description="column of document ids; default a hash of the content")
    segments: dict[Name, str] = Field(default_factory=dict, description=(
        "segment level -> column, for the top levels down to the lowest the documents name; default the "
        "source's mapping for every level"))

    @field_validator("pattern")
    @classmethod
    def _inside_landing(cls, value: str) -> str:
        return _landing_pattern(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return value if value is None else _known_zone(value)

    @model_validator(mode="after")
    def _one_kind(self) -> "DocumentSource":
        if (self.kind is None) == (self.kind_column is None):
            raise ValueError("give exactly one of kind (every document's kind) or kind_column")
        return self


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
    return value


class Source(_Strict):
    kind: Literal["demo", "files"]
    scenario: Name | None = Field(default=None, description="demo scenario name (kind: demo)")
    pattern: str | None = Field(default=None, description="glob under the landing folder (kind: files)")
    format: Literal["long", "wide"] = "long"
    timestamp: str = "timestamp"
    timezone: str = "UTC"
    timestamp_format: str | None = Field(default=None, description=(
        "strptime format of text timestamps that are not ISO 8601, e.g. '%d.%m.%Y %H:%M' or '%m/%d/%Y %I:%M %p' "
        "(with %z the text's own offset wins over timezone)"))
    decimal_separator: Literal[".", ","] = Field(default=".", description="of numbers written as text")
    thousands_separator: Literal["", ",", ".", " ", "'"] = Field(default="", description=(
        "grouping character of numbers written as text, removed before reading (' ' also removes no-break spaces)"))
    measure: str | None = "measure"
    value: str | None = "value"
    event_id: str | None = None
    segments: dict[Name, str] = Field(default_factory=dict, description="segment level -> column")
    measures: dict[Name, str] = Field(default_factory=dict, description="wide format: measure -> column")
    documents: list[DocumentSource] = Field(default_factory=list, description="landing files of documents (kind: files)")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _known_zone(value)

    @field_validator("timestamp_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "%" not in value or not re.search(r"%[dj]", value) or not re.search(r"%[mbB]", value) \
                or not re.search(r"%[Yy]", value):
            raise ValueError(f"timestamp_format {value!r} needs a day (%d), a month (%m, %b or %B) and a year "
                             "(%Y or %y), e.g. '%d.%m.%Y %H:%M'")
        unknown = sorted(set(re.findall(r"%(.)", value)) - set("aAbBcdfgGHIjmMpSuUVwWxXyYzZ%"))
        if unknown:
            raise ValueError(f"timestamp_format {value!r}: unknown directive(s) {', '.join('%' + u for u in unknown)}")
        return value

    @model_validator(mode="after")
    def _separators(self) -> "Source":
        if self.thousands_separator == self.decimal_separator:
            raise ValueError(f"thousands_separator and decimal_separator are both {self.decimal_separator!r}")
        return self

    def document_zone(self, documents: DocumentSource) -> str:
        return documents.timezone or self.timezone

    def document_segments(self, documents: DocumentSource, levels: list[str]) -> dict[str, str]:
        """Level -> column of ``documents``, top level first (a prefix of ``levels``)."""
        mapping = documents.segments or {level: self.segments.get(level, level) for level in levels}
        return {level: mapping[level] for level in levels if level in mapping}

    @model_validator(mode="after")
    def _kind_fields(self) -> "Source":
        if self.kind == "demo" and not self.scenario:
            raise ValueError("a demo source needs scenario")
        if self.kind == "files":
            if not self.pattern:
                raise ValueError("a files source needs pattern (a glob under the landing folder)")
            _landing_pattern(self.pattern)
            if self.format == "wide" and not self.measures:
                raise ValueError("a wide source needs measures: {measure: column}")
            if self.format == "long" and (not self.measure or not self.value):
                raise ValueError("a long source needs measure and value columns")
        if self.kind == "demo" and self.documents:
            raise ValueError("documents come from landing files (kind: files); the demo generator writes its own")
        return self


class BudgetSpec(_Strict):
    id: Name
    name: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    description: str = ""
    allocation: Allocation
    reporting_grain: Grain = "month"
    timezone: str | None = Field(default=None, description=(
        "the budget's clock: its days and hours (partitions, digests, periods, goals) are this zone's wall-clock "
        "days and hours; default the source's timezone"))
    value_chain: list[Name] = Field(min_length=1, description="value-chain steps, upstream first")
    segments: Segments
    measures: dict[Name, Measure] = Field(min_length=1)
    metrics: dict[Name, Metric] = Field(min_length=1)
    relationships: list[Relationship] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    events: list[KnownEvent] = Field(default_factory=list)
    holidays: list[HolidayCalendar] = Field(default_factory=list, description=(
        "public-holiday calendars whose days are known events of kind holiday"))
    optimization: Optimization | None = None
    archetypes: Archetypes = Archetypes()
    source: Source

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return value if value is None else _known_zone(value)

    @property
    def clock(self) -> str:
        """The zone whose wall-clock days and hours the budget is reported in."""
        return self.timezone or self.source.timezone

    def known_events(self, first: dt.date, last: dt.date) -> list[KnownEvent]:
        """The declared events and, from the holiday calendars, every public holiday from ``first`` to ``last``."""
        found = list(self.events)
        for calendar in self.holidays:
            found += [KnownEvent(date=day, name=f"{name} ({calendar.label})", kind="holiday", level=calendar.level,
                                 segment=calendar.segment)
                      for day, name in holidays_between(calendar.country, calendar.subdivision, first, last)]
        return found

    @property
    def allocation_metric(self) -> str | None:
        """The metric spent against the allocation: the named one, else the one base sum metric whose unit
        (its own or its measure's) is the allocation's currency and that is not favourable up, as a revenue is
        and spending is not (a hotel's room revenue, its only sum in pounds, was read as spending: "107.9% of
        the allocation, 0% chance of staying within it"); none when there is no such single metric."""
        if self.allocation.metric is not None:
            return self.allocation.metric
        currency = self.allocation.currency
        found = [m for m, metric in self.metrics.items() if metric.kind == "base" and metric.agg == "sum"
                 and (metric.unit or self.measures[metric.measure].unit) == currency and metric.favourable != "up"]
        return found[0] if len(found) == 1 else None

    def is_ceiling(self, goal: Goal) -> bool:
        """True when the goal's target is a most (spend within it), from its direction or else its metric."""
        if goal.direction is not None:
            return goal.direction == "at_most"
        return self.metrics[goal.metric].favourable == "down"

    @property
    def north_star(self) -> str:
        return next(m for m, metric in self.metrics.items() if "north_star" in metric.roles)

    def parsed_formulas(self) -> dict[str, Expr]:
        """Derived metrics' expression trees (validated at load)."""
        return {m: parse_formula(metric.formula) for m, metric in self.metrics.items() if metric.formula}

    def parsed_rules(self) -> dict[str, Condition]:
        return {rule.id: parse_condition(rule.when) for rule in self.rules}


# --- loading ---------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (YAML would keep the last silently)."""


class _FastUniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The same on libyaml's parser where PyYAML has it: the demo's three specs read in 3 ms against 21 ms, and
    every step of a run reads them. Its messages say less ("found undefined alias", not which), so a spec it
    refuses is read again by :class:`_UniqueKeyLoader` for the message."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_FastUniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str):
    """The YAML document in ``text``, read fast; one libyaml refuses is read by the pure parser, whose verdict
    (and clearer message) stands."""
    try:
        return yaml.load(text, Loader=_FastUniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass


def _loc(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _keys_at(loc: tuple) -> list[str]:
    """The keys the spec allows at ``loc`` (a mapping's key path), or none when the path leads to no model."""
    model, parts = BudgetSpec, list(loc)
    while parts:
        field = model.model_fields.get(parts[0]) or next(
            (f for f in model.model_fields.values() if f.alias == parts[0]), None)
        if field is None:
            return []
        parts, kind = parts[1:], field.annotation
        while not (isinstance(kind, type) and issubclass(kind, BaseModel)):
            if get_origin(kind) in (list, dict, tuple) and parts:
                parts, kind = parts[1:], get_args(kind)[-1]  # a list's index or a mapping's key
                continue
            kind = next((a for a in get_args(kind) if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if kind is None:
                return []
        model = kind
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _problem(error: dict) -> tuple[str, str]:
    """(key path, message) of one pydantic error; an unknown key is named, with the nearest allowed one."""
    loc = error["loc"]
    if error["type"] != "extra_forbidden" or not loc:
        return _loc(loc), error["msg"]
    key, parent = str(loc[-1]), loc[:-1]
    message = f"unknown key {key!r}{_suggest(key, _keys_at(parent))}"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        # YAML's flow mappings end a value at a comma: {formula: max(a, 1)} becomes two keys
        message += " -- a comma inside { } ends a value: quote a formula or condition holding one, " \
                   "e.g. {formula: \"max(a, 1)\"}"
    return _loc(parent), message


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _cross_check(spec: BudgetSpec) -> list[tuple[str, str]]:
    """Checks that span keys: references, cycles, levels, steps, roles. Returns (key, message)."""
    problems: list[tuple[str, str]] = []
    metrics, levels = spec.metrics, spec.segments.levels
    formulas: dict[str, list[str]] = {}

    def known_metric(ref: str, key: str, allow_composite: bool = True) -> bool:
        if ref not in metrics:
            problems.append((key, f"unknown metric {ref!r}{_suggest(ref, metrics)}"))
            return False
        if not allow_composite and metrics[ref].kind == "composite":
            problems.append((key, f"{ref!r} is a composite score; formulas and composites may not reference one"))
            return False
        if not allow_composite and metrics[ref].kind == "qualitative":
            problems.append((key, f"{ref!r} is read from text at its own grain; formulas and composites may not "
                                  "reference it"))
            return False
        return True

    for level in spec.segments.attributes:
        if level not in levels:
            problems.append((f"segments.attributes.{level}", f"unknown segment level {level!r}{_suggest(level, levels)}"))
    for mid, metric in metrics.items():
        key = f"metrics.{mid}"
        if mid in SYSTEM_METRICS:
            problems.append((key, f"{mid!r} is a system metric every budget already has (LLM spending); pick another id"))
        if metric.step not in spec.value_chain:
            problems.append((f"{key}.step", f"unknown value-chain step {metric.step!r}{_suggest(metric.step, spec.value_chain)}"))
        if metric.measure is not None and metric.measure not in spec.measures:
            problems.append((f"{key}.measure", f"unknown measure {metric.measure!r}{_suggest(metric.measure, spec.measures)}"))
        if metric.text is not None and metric.text.level is not None and metric.text.level not in levels:
            problems.append((f"{key}.text.level", f"unknown segment level {metric.text.level!r}{_suggest(metric.text.level, levels)}"))
        if metric.of is not None and metric.of not in levels:
            problems.append((f"{key}.of", f"unknown segment level {metric.of!r}{_suggest(metric.of, levels)}"))
        if metric.formula is not None:
            try:
                refs = references(parse_formula(metric.formula))
            except FormulaError as err:
                problems.append((f"{key}.formula", f"bad syntax: {err}"))
                continue
            formulas[mid] = [r for r in refs if known_metric(r, f"{key}.formula", allow_composite=False)]
        if metric.composite is not None:
            for i, comp in enumerate(metric.composite.components):
                known_metric(comp.metric, f"{key}.composite.components.{i}.metric", allow_composite=False)
    cycles = _cycles(formulas)
    problems.extend(cycles)

    stars = [m for m, metric in metrics.items() if "north_star" in metric.roles]
    if len(stars) != 1:
        problems.append(("metrics", f"exactly one metric needs role north_star; found {len(stars)}"
                         + (f" ({', '.join(stars)})" if stars else "")))
    for i, rel in enumerate(spec.relationships):
        known_metric(rel.source, f"relationships.{i}.from")
        known_metric(rel.target, f"relationships.{i}.to")
        if rel.source == rel.target:
            problems.append((f"relationships.{i}", "a relationship needs two different metrics"))
    _unique_ids([g.id for g in spec.goals], "goals", problems)
    _unique_ids([r.id for r in spec.rules], "rules", problems)
    for i, goal in enumerate(spec.goals):
        known_metric(goal.metric, f"goals.{i}.metric")
        if goal.id.startswith(ALLOCATION_GOAL_PREFIX):
            problems.append((f"goals.{i}.id", f"ids starting {ALLOCATION_GOAL_PREFIX!r} are the allocation's "
                                              "periods, tracked as goals of their own; pick another id"))
        if goal.start and goal.start >= goal.deadline:
            problems.append((f"goals.{i}.start", "start must be before deadline"))
    spent = spec.allocation.metric
    if spent is not None and known_metric(spent, "allocation.metric") and not cycles and not _adds_up(spec, spent):
        problems.append(("allocation.metric", f"{spent!r} must be a count or sum, or a formula adding counts and "
                                              "sums with positive weights such as wages + bonuses (spending adds up "
                                              "over the days)"))
    for i, rule in enumerate(spec.rules):
        try:
            condition = parse_condition(rule.when)
        except FormulaError as err:
            problems.append((f"rules.{i}.when", f"bad syntax: {err}"))
            continue
        for ref in condition.references():
            known_metric(ref, f"rules.{i}.when")
        if rule.scope.level is not None and rule.scope.level not in levels:
            problems.append((f"rules.{i}.scope.level", f"unknown segment level {rule.scope.level!r}{_suggest(rule.scope.level, levels)}"))
    if spec.archetypes.level is not None and spec.archetypes.level not in levels:
        problems.append(("archetypes.level", f"unknown segment level {spec.archetypes.level!r}{_suggest(spec.archetypes.level, levels)}"))
    if spec.archetypes.metric is not None:
        known_metric(spec.archetypes.metric, "archetypes.metric")
    for i, event in enumerate(spec.events):
        if event.level is not None and event.level not in levels:
            problems.append((f"events.{i}.level", f"unknown segment level {event.level!r}{_suggest(event.level, levels)}"))
        if (event.level is None) != (event.segment is None):
            problems.append((f"events.{i}", "level and segment go together"))
        if event.end_date and event.end_date < event.date:
            problems.append((f"events.{i}.end_date", "end_date is before date"))
    for i, calendar in enumerate(spec.holidays):
        if (problem := calendar_problem(calendar.country, calendar.subdivision)) is not None:
            problems.append((f"holidays.{i}.{problem[0]}", problem[1]))
        if calendar.level is not None and calendar.level not in levels:
            problems.append((f"holidays.{i}.level",
                             f"unknown segment level {calendar.level!r}{_suggest(calendar.level, levels)}"))
        if (calendar.level is None) != (calendar.segment is None):
            problems.append((f"holidays.{i}", "level and segment go together"))
    opt = spec.optimization
    if opt is not None:
        for key, metric_id, aggs in (("objective", opt.objective, ("count", "sum")), ("lever", opt.lever, ("sum",))):
            if known_metric(metric_id, f"optimization.{key}") and metrics[metric_id].agg not in aggs:
                problems.append((f"optimization.{key}", f"{metric_id!r} must be a base metric with agg {' or '.join(aggs)}"))
        for i, bound in enumerate(opt.limits):
            if known_metric(bound.metric, f"optimization.limits.{i}.metric") and metrics[bound.metric].agg not in ("count", "sum"):
                problems.append((f"optimization.limits.{i}.metric",
                                 f"{bound.metric!r} must be a base metric with agg count or sum (it adds up over levers)"))
        if opt.level not in levels:
            problems.append(("optimization.level", f"unknown segment level {opt.level!r}{_suggest(opt.level, levels)}"))
    source = spec.source
    if source.kind == "files":
        if source.segments and set(source.segments) != set(levels):
            missing = sorted(set(levels) - set(source.segments))
            extra = sorted(set(source.segments) - set(levels))
            problems.append(("source.segments", "must map every segment level to a column"
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unknown level(s) {', '.join(extra)}" if extra else "")))
        for measure in source.measures:
            if measure not in spec.measures:
                problems.append((f"source.measures.{measure}", f"unknown measure {measure!r}{_suggest(measure, spec.measures)}"))
        problems.extend(_document_problems(spec))
    return problems


def _document_problems(spec: BudgetSpec) -> list[tuple[str, str]]:
    """A files budget's document sources name known levels top-down, and every text metric can be read."""
    problems, levels, source = [], spec.segments.levels, spec.source
    for i, documents in enumerate(source.documents):
        key = f"source.documents.{i}.segments"
        unknown = sorted(set(documents.segments) - set(levels))
        if unknown:
            problems.append((key, f"unknown segment level(s) {', '.join(unknown)}{_suggest(unknown[0], levels)}"))
        elif documents.segments and set(documents.segments) != set(levels[:len(documents.segments)]):
            problems.append((key, f"must map the top levels without a gap ({', '.join(levels[:len(documents.segments)])})"))
    fixed = {d.kind for d in source.documents if d.kind is not None}
    any_kind = any(d.kind_column is not None for d in source.documents)
    for mid, metric in spec.metrics.items():
        if metric.text is None:
            continue
        if not source.documents:
            problems.append((f"metrics.{mid}.text", "the source has no documents to read: add source.documents "
                                                     "(landing files with a timestamp, a text and a kind)"))
            continue
        depth = max(len(source.document_segments(d, levels)) for d in source.documents)
        if metric.text.level is not None and metric.text.level in levels[depth:]:
            problems.append((f"metrics.{mid}.text.level", f"the documents name segments down to "
                                                          f"{levels[depth - 1] if depth else 'no level'}, not {metric.text.level!r}"))
        if not any_kind:
            for kind in metric.text.kinds:
                if kind not in fixed:
                    problems.append((f"metrics.{mid}.text.kinds", f"no document source has kind {kind!r}{_suggest(kind, fixed)}"))
    return problems


def _unique_ids(ids: list[str], key: str, problems: list[tuple[str, str]]) -> None:
    for dupe in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append((key, f"duplicate id {dupe!r}"))


def _adds_up(spec: BudgetSpec, metric_id: str) -> bool:
    """Whether a metric's days add up to its total as spending does: a count or sum, or a formula adding such with
    positive weights (``wages + bonuses``, ``40 * hours + parts``), derived references inlined; formulas whose
    syntax or references are wrong are reported where they are defined."""
    metric = spec.metrics[metric_id]
    if metric.formula is None:
        return metric.kind == "base" and metric.agg in ("sum", "count")
    try:
        parsed = {m: parse_formula(x.formula) for m, x in spec.metrics.items() if x.formula}
    except FormulaError:
        return True
    terms = linear_terms(substitute(parsed[metric_id], parsed))
    return bool(terms) and all(name not in spec.metrics or (weight > 0 and _adds_up(spec, name))
                               for name, weight in terms.items())


def _cycles(graph: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Report each formula cycle once, as a path."""
    problems, state, reported = [], {}, set()

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                cycle = path[path.index(nxt):] + [nxt]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    problems.append((f"metrics.{nxt}.formula", "cycle: " + " -> ".join(cycle)))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return problems


def parse_spec(data: object, file: str = "<spec>") -> BudgetSpec:
    """Validate a decoded YAML document into a :class:`BudgetSpec`.

    Raises
    ------
    SpecError
        Listing every problem as ``file: key.path: message``.
    """
    if not isinstance(data, dict):
        raise SpecError([(file, "", f"a spec must be a mapping, got {type(data).__name__}")])
    try:
        spec = BudgetSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError([(file, *_problem(e)) for e in err.errors()]) from None
    problems = _cross_check(spec)
    if problems:
        raise SpecError([(file, key, message) for key, message in problems])
    return spec


def load_spec(path: str | Path) -> BudgetSpec:
    """Read and validate one spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError([(str(path), "", f"cannot read: {err}")]) from None
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise SpecError([(str(path), where, f"bad YAML: {problem}")]) from None
    return parse_spec(data, str(path))


def load_specs(folder: str | Path) -> list[BudgetSpec]:
    """Load every ``*.yaml``/``*.yml`` spec in ``folder``, sorted by budget id.

    Raises
    ------
    SpecError
        If the folder is missing or empty, any spec is invalid, or two files
        declare the same budget id.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError([(str(folder), "", "spec folder does not exist")])
    files = sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    if not files:
        raise SpecError([(str(folder), "", "no *.yaml budget specs in folder")])
    problems, specs, owners = [], [], {}
    for file in files:
        try:
            spec = load_spec(file)
        except SpecError as err:
            problems.extend(err.problems)
            continue
        if spec.id in owners:
            problems.append((str(file), "id", f"duplicate budget id {spec.id!r} (also in {owners[spec.id]})"))
            continue
        owners[spec.id] = str(file)
        specs.append(spec)
    if problems:
        raise SpecError(problems)
    return sorted(specs, key=lambda s: s.id)

