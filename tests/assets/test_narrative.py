"""The real Anthropic SDK against a local HTTP fake: request shape, success, failure."""

import json
import logging

import pytest

from assets.briefing_assets import write_briefing
from assets.narrative import SYSTEM_PROMPT, AnthropicWriter
from models.briefing.payload import build_payload
from tests.fake_anthropic import FakeAnthropic
from tests.models.test_briefing import SPEC, inputs, monthly_values

LOG = logging.getLogger("test")


@pytest.fixture
def payload():
    return build_payload(SPEC, inputs(monthly_values(1500.0)))


def test_llm_writes_the_summary_from_the_payload(payload, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with FakeAnthropic(text="New customers reached 1,500 (observed).") as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        row = write_briefing(SPEC, payload, AnthropicWriter(model="claude-sonnet-5-5"), tmp_path, LOG)
    assert row["writer"] == "llm" and row["model"] == "claude-sonnet-5-5" and row["fallback_reason"] is None
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 80)
    request = fake.requests[0]
    assert request["path"] == "/v1/messages"
    body = request["body"]
    assert body["model"] == "claude-sonnet-5-5"
    assert body["system"][0]["text"] == SYSTEM_PROMPT and body["system"][0]["cache_control"] == {"type": "ephemeral"}
    sent = json.loads(body["messages"][0]["content"].split("```json\n")[1].split("\n```")[0])
    assert sent == json.loads(json.dumps(payload, sort_keys=True))
    text = (tmp_path / SPEC.id / "month-2026-06-01.md").read_text()
    assert "New customers reached 1,500 (observed)." in text and "Claude (claude-sonnet-5-5)" in text


def test_an_empty_answer_falls_back(payload, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with FakeAnthropic(text="") as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        row = write_briefing(SPEC, payload, AnthropicWriter(), tmp_path, LOG)
    assert row["writer"] == "template" and row["fallback_reason"] == "ValueError"


def test_rate_limit_then_success_uses_the_sdk_retries(payload, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with FakeAnthropic(statuses=(429, 200)) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        row = write_briefing(SPEC, payload, AnthropicWriter(), tmp_path, LOG)
    assert row["writer"] == "llm" and len(fake.requests) == 2


def test_without_a_key_no_request_is_made(payload, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    row = write_briefing(SPEC, payload, AnthropicWriter(), tmp_path, LOG)
    assert row["writer"] == "template" and row["fallback_reason"] == "no ANTHROPIC_API_KEY"
