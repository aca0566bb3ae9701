"""The structured answer an LLM gives for a briefing, its JSON schema (the tool's input) and checks.

The model answers through one tool whose input is a :class:`BriefingDraft`: a
headline, a few sections and recommendations each classified as a Decision
(programmed: focus / remove; non-programmed) or an Action (quantity: more;
quality: unique / best / above_par / on_par / below_par). The answer is validated
here; the numbers in it are checked by :mod:`models.briefing.grounding`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.spec import Classification

TOOL_NAME = "submit_briefing"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(_Closed):
    title: str = Field(min_length=1, max_length=80)
    body: str = Field(min_length=1, max_length=2500, description="plain Markdown prose, no headings or tables")


class Recommendation(_Closed):
    text: str = Field(min_length=1, max_length=600)
    metric_id: str | None = Field(default=None, description="the payload metric it is about, if any")
    classification: Classification


class BriefingDraft(_Closed):
    headline: str = Field(min_length=1, max_length=200, description="one sentence, the most important fact first")
    sections: list[Section] = Field(min_length=1, max_length=6)
    recommendations: list[Recommendation] = Field(default_factory=list, max_length=8)

    def text(self) -> str:
        """All prose of the draft, for the grounding check."""
        parts = [self.headline] + [f"{s.title}\n{s.body}" for s in self.sections] + [r.text for r in self.recommendations]
        return "\n".join(parts)


class DraftError(ValueError):
    """The model's answer does not fit the schema or cites what the payload does not hold."""


def _inline_refs(schema: dict) -> dict:
    """Pydantic's schema with ``$ref``s replaced by their definitions (one self-contained object)."""
    defs = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].split("/")[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def briefing_tool() -> dict:
    """The tool definition (name, description, input JSON schema) the model must answer with."""
    return {
        "name": TOOL_NAME,
        "description": "Submit the budget briefing: a headline, 1-6 sections of prose and classified recommendations. "
                       "Cite only numbers that appear in the payload.",
        "input_schema": _inline_refs(BriefingDraft.model_json_schema()),
    }


def parse_draft(answer: dict, payload: dict) -> BriefingDraft:
    """Validate a tool answer against the schema and the payload's metric ids.

    Raises
    ------
    DraftError
        Naming every field that is missing, malformed or refers to an unknown metric.
    """
    try:
        draft = BriefingDraft.model_validate(answer)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in err.errors())
        raise DraftError(f"answer does not fit the briefing schema: {problems}") from None
    known = {f["metric_id"] for f in payload.get("metrics", [])}
    unknown = sorted({r.metric_id for r in draft.recommendations if r.metric_id and r.metric_id not in known})
    if unknown:
        raise DraftError(f"recommendations name metrics not in the payload: {', '.join(unknown)}")
    return draft
