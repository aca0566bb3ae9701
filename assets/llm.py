"""The Anthropic client as a Dagster resource, and the run's ledger of LLM calls.

The key comes from ``ANTHROPIC_API_KEY`` only and is read by the SDK itself: it is
never part of Dagster config, logs, tables or outputs. ``ANTHROPIC_BASE_URL`` is
honoured by the SDK. Retries (408/409/429/5xx/529, honouring retry-after) and
timeouts are the SDK's own. Every call, failed or not, is a row of
``raw.llm_calls`` (tokens, cost); dbt turns them into the metrics ``llm_calls``,
``llm_input_tokens``, ``llm_output_tokens`` and ``llm_cost_usd`` of each budget.
Before each call the ledger reserves the call's worst case against the run's
token and cost caps, so a run never spends beyond them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
from pydantic import Field

from models.llm.cost import Price, Usage, cost_usd, price_for, worst_case

DEFAULT_MODEL = "claude-sonnet-5-5"



class LlmUnavailable(Exception):
    """No usable answer: no key, the run's cap reached, or the API failed after the SDK's retries."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ToolAnswer:
    """The input the model gave the forced tool, with what it cost."""

    data: dict
    model: str
    usage: Usage
    cost_usd: float
    assistant_content: list  # the assistant turn, to continue the conversation with feedback
    tool_use_id: str


@dataclass
class LlmLedger:
    """The run's LLM spending so far (from ``raw.llm_calls``) and the calls of this step."""

    run_id: str
    cap_usd: float
    cap_tokens: int
    spent_usd: float = 0.0
    spent_tokens: int = 0
    seq: int = 0
    rows: list[dict] = field(default_factory=list)

    @classmethod
    def for_run(cls, conn, run_id: str, cap_usd: float, cap_tokens: int) -> "LlmLedger":
        usd, tokens, seq = conn.execute(
            "select coalesce(sum(cost_usd), 0), coalesce(sum(input_tokens + output_tokens + cache_creation_input_tokens "
            "+ cache_read_input_tokens), 0), coalesce(max(call_seq), 0) from raw.llm_calls where run_id = ?",
            [run_id]).fetchone()
        return cls(run_id, cap_usd, cap_tokens, float(usd), int(tokens), int(seq))

    def reserve(self, tokens: int, usd: float) -> None:
        if self.spent_usd + usd > self.cap_usd:
            raise LlmUnavailable(f"run LLM cost cap reached (spent ${self.spent_usd:.4f} of ${self.cap_usd:.2f}; "
                                 f"the call could cost ${usd:.4f})")
        if self.spent_tokens + tokens > self.cap_tokens:
            raise LlmUnavailable(f"run LLM token cap reached ({self.spent_tokens:,} of {self.cap_tokens:,} tokens; "
                                 f"the call could use {tokens:,})")

    def record(self, budget_id: str, purpose: str, subject: str, model: str, outcome: str, usage: Usage,
               price: Price, error: str | None = None) -> float:
        cost = cost_usd(usage, price)
        self.seq += 1
        self.spent_usd += cost
        self.spent_tokens += usage.total_tokens
        self.rows.append({"run_id": self.run_id, "call_seq": self.seq, "called_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                          "budget_id": budget_id, "purpose": purpose, "subject": subject, "model": model,
                          "outcome": outcome, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                          "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                          "cache_read_input_tokens": usage.cache_read_input_tokens, "cost_usd": cost,
                          "price_basis": price.basis, "error": error})
        return cost

    def reject_last(self, outcome: str, reason: str) -> None:
        """Mark the last answered call as rejected by our checks (schema, grounding, validation)."""
        self.rows[-1].update(outcome=outcome, error=reason[:500])

    def persist(self, conn) -> int:
        """Append this step's calls to ``raw.llm_calls``; returns how many."""
        if not self.rows:
            return 0
        frame = pd.DataFrame(self.rows)
        conn.register("_llm_calls", frame)
        conn.execute("insert into raw.llm_calls by name select * from _llm_calls")
        conn.unregister("_llm_calls")
        written, self.rows = len(self.rows), []
        return written


def _api_failure(err: Exception) -> str:
    status = getattr(err, "status_code", None)
    return f"{type(err).__name__}{f' (HTTP {status})' if status else ''}"


class AnthropicLLM(dg.ConfigurableResource):
    """The Anthropic SDK, configured: model, retries, timeouts and the per-run caps."""

    model: str = Field(default=DEFAULT_MODEL, description="Claude model id (BUDGETLENS_LLM_MODEL).")
    max_retries: int = Field(default=3, description="SDK retries on 408/409/429/5xx/529 (honouring retry-after).")
    timeout_seconds: float = Field(default=60.0, description="Per-request timeout.")
    max_output_tokens: int = Field(default=2000, description="Output token cap per call.")
    run_cost_cap_usd: float = Field(default=5.0, description="Most a run may spend on LLM calls (BUDGETLENS_LLM_RUN_COST_CAP_USD).")
    run_token_cap: int = Field(default=400_000, description="Most tokens a run may use (BUDGETLENS_LLM_RUN_TOKEN_CAP).")
    min_grounded_ratio: float = Field(default=1.0, ge=0, le=1, description="Share of a briefing's numbers that must "
                                      "be payload values; below it the answer is retried once, then the template is used.")
    price_input_per_mtok: float | None = Field(default=None, description="Override of the list price (USD per MTok).")
    price_output_per_mtok: float | None = Field(default=None, description="Override of the list price (USD per MTok).")

    def enabled(self) -> bool:
        return bool(os.environ.get("ANTHROPIC_API_KEY"))

    def ledger(self, conn, run_id: str) -> LlmLedger:
        """The run's ledger under this resource's caps (spending so far read from ``raw.llm_calls``)."""
        return LlmLedger.for_run(conn, run_id, self.run_cost_cap_usd, self.run_token_cap)

    def price(self) -> Price:
        return price_for(self.model, self.price_input_per_mtok, self.price_output_per_mtok)

    def ask(self, ledger: LlmLedger, *, budget_id: str, purpose: str, subject: str, system: str, messages: list,
            tool: dict, max_tokens: int | None = None) -> ToolAnswer:
        """One call forced to answer with ``tool`` (at most ``max_tokens``, default ``max_output_tokens``);
        the static ``system`` text is cached.

        Raises
        ------
        LlmUnavailable
            Without a key, beyond the run's caps, or when the API fails after the SDK's retries
            or answers without the tool. The failure is recorded in the ledger either way.
        """
        if not self.enabled():
            raise LlmUnavailable("no ANTHROPIC_API_KEY")
        price = self.price()
        max_tokens = max_tokens or self.max_output_tokens
        prompt_chars = len(system) + len(json.dumps(tool)) + len(json.dumps(messages))
        ledger.reserve(*worst_case(prompt_chars, max_tokens, price))
        # Imported here, not at the top: importing the SDK costs ~1.3 s (measured), paid by every run and
        # `budgetlens ui` start even when no key is set and no call is ever made.
        import anthropic

        client = anthropic.Anthropic(max_retries=self.max_retries, timeout=self.timeout_seconds)
        try:
            response = client.messages.create(
                model=self.model, max_tokens=max_tokens,
                system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                tools=[tool], tool_choice={"type": "tool", "name": tool["name"]}, messages=messages)
        except anthropic.APIError as err:
            reason = _api_failure(err)
            ledger.record(budget_id, purpose, subject, self.model, "api_error", Usage(), price, reason)
            raise LlmUnavailable(f"LLM call failed: {reason}") from None
        finally:
            client.close()
        u = response.usage
        usage = Usage(u.input_tokens or 0, u.output_tokens or 0, getattr(u, "cache_creation_input_tokens", 0) or 0,
                      getattr(u, "cache_read_input_tokens", 0) or 0)
        blocks = [b for b in response.content if getattr(b, "type", "") == "tool_use" and b.name == tool["name"]]
        if not blocks or not isinstance(blocks[0].input, dict):
            ledger.record(budget_id, purpose, subject, response.model, "malformed", usage, price,
                          f"no {tool['name']} tool call in the answer (stop_reason {response.stop_reason})")
            raise LlmUnavailable(f"malformed answer: no {tool['name']} tool call (stop_reason {response.stop_reason})")
        cost = ledger.record(budget_id, purpose, subject, response.model, "answered", usage, price)
        return ToolAnswer(blocks[0].input, response.model, usage, cost,
                          [b.model_dump(exclude_none=True) for b in response.content], blocks[0].id)


def with_feedback(messages: list, answer: ToolAnswer, feedback: str) -> list:
    """The conversation continued: the model's tool call, then our rejection of it with the reasons."""
    return messages + [
        {"role": "assistant", "content": answer.assistant_content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": answer.tool_use_id, "is_error": True,
                                      "content": feedback}]},
    ]
