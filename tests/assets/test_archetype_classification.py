"""Archetypes through the real SDK and a local fake: Claude's labels when valid, the quadrant rule otherwise."""

import logging

import anthropic.resources.messages.messages as sdk_messages
import pandas as pd
import pytest

from assets.archetype_assets import classify
from assets.llm import DEFAULT_MODEL, AnthropicLLM, LlmLedger
from assets.settings import DEMO_SPECS
from models.spec import load_spec
from tests.fake_anthropic import FakeAnthropic, sensible_answer

SPEC = load_spec(DEMO_SPECS / "customer_support.yaml")
LOG = logging.getLogger("test")


def values():
    months = pd.date_range("2026-01-01", periods=8, freq="MS")
    series = {"emea": [100, 100, 101, 100, 100, 101, 100, 100], "amer": [80, 120, 60, 130, 70, 110, 90, 100],
              "apac": [40, 41, 40, 42, 41, 40, 41, 40]}
    return pd.DataFrame([{"segment_id": s, "period_start": m, "value": v} for s, vs in series.items()
                         for m, v in zip(months, vs)])


def test_the_default_model_is_current_and_not_deprecated():
    assert DEFAULT_MODEL not in sdk_messages.DEPRECATED_MODELS
    assert AnthropicLLM().model == DEFAULT_MODEL


def test_offline_the_quadrant_rule_classifies(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    out = classify(SPEC, values(), AnthropicLLM(), LlmLedger("r", 1.0, 10_000), LOG).set_index("segment_id")
    # medians: reward amer's 95, risk apac's (ties count high)
    assert out["archetype"].to_dict() == {"emea": "low-risk/high-reward", "amer": "high-risk/high-reward",
                                          "apac": "high-risk/low-reward"}
    assert (out["archetype"] == out["rule_archetype"]).all() and set(out["fallback_reason"]) == {"no ANTHROPIC_API_KEY"}


def test_claude_classifies_from_the_table_and_the_rule_is_kept_beside(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    with FakeAnthropic(answer=sensible_answer) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        out = classify(SPEC, values(), AnthropicLLM(), LlmLedger("r", 1.0, 10_000), LOG)
    assert set(out["archetype"]) == {"low-risk/high-reward"} and set(out["method"]) == {"claude-sonnet-5-5"}
    assert out["rule_archetype"].nunique() > 1
    assert fake.requests[0]["body"]["tool_choice"]["name"] == "classify_segments"


@pytest.mark.parametrize("answer, reason", [
    ({"assignments": [{"segment_id": "emea", "archetype": "low-risk/high-reward", "rationale": "r"}]},
     "missing segments: amer, apac"),
    ({"assignments": [{"segment_id": s, "archetype": "unicorn", "rationale": "r"} for s in ("emea", "amer", "apac")]},
     "unknown archetype 'unicorn'"),
])
def test_an_invalid_classification_falls_back_to_the_rule(monkeypatch, answer, reason):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    ledger = LlmLedger("r", 1.0, 10_000)
    with FakeAnthropic(answer=lambda body: answer) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        out = classify(SPEC, values(), AnthropicLLM(), ledger, LOG)
    assert (out["archetype"] == out["rule_archetype"]).all()
    assert reason in out["fallback_reason"].iloc[0] and ledger.rows[0]["outcome"] == "rejected_validation"
