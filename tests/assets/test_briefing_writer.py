"""The real Anthropic SDK against a local HTTP fake: tool answer, caching, grounding, retries, fallbacks, caps."""

import json
import logging

import pytest

from assets.briefing_assets import write_briefing
from assets.briefing_writer import SYSTEM_PROMPT
from assets.llm import AnthropicLLM, LlmLedger
from models.briefing.draft import TOOL_NAME
from models.briefing.payload import BriefingInputs, build_payload
from tests.fake_anthropic import FakeAnthropic
from tests.models.test_briefing import SPEC, drift_rows, inputs, monthly_values

LOG = logging.getLogger("test")
KEY = "sk-ant-test-PLANTED-SECRET-7f3a"


def draft(headline="New customers reached 1,500 in 2026-06 (observed), up 48.5%.", recommendation="Keep the mix."):
    return {"headline": headline,
            "sections": [{"title": "North star", "body": "New customers were 1,500 against 1,010 the month before."}],
            "recommendations": [{"text": recommendation, "metric_id": "new_customers",
                                 "classification": {"kind": "decision", "type": "programmed", "detail": "focus"}}]}


@pytest.fixture
def payload():
    return build_payload(SPEC, inputs(monthly_values(1500.0)))


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def ledger(cap_usd=5.0, cap_tokens=1_000_000):
    return LlmLedger("run-1", cap_usd, cap_tokens)


def run(fake, monkeypatch, payload, tmp_path, llm=None, book=None):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    book = book or ledger()
    row = write_briefing(SPEC, payload, llm or AnthropicLLM(max_retries=2), book, tmp_path, LOG)
    return row, book


def test_the_request_carries_the_payload_the_tool_schema_and_cache_control(payload, tmp_path, keyed, monkeypatch):
    with FakeAnthropic(answer=lambda body: draft()) as fake:
        row, book = run(fake, monkeypatch, payload, tmp_path)
    assert row["writer"] == "llm" and row["fallback_reason"] is None and row["grounded_ratio"] == 1.0
    body = fake.requests[0]["body"]
    assert fake.requests[0]["path"] == "/v1/messages" and body["model"] == "claude-sonnet-5-5"
    assert body["system"][0]["text"] == SYSTEM_PROMPT and body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    schema = body["tools"][0]["input_schema"]
    assert set(schema["required"]) == {"headline", "sections"} and "$defs" not in json.dumps(schema)
    sent = json.loads(body["messages"][0]["content"].split("```json\n")[1].split("\n```")[0])
    assert sent == json.loads(json.dumps(payload, sort_keys=True))
    text = (tmp_path / SPEC.id / "month-2026-06-01.md").read_text()
    assert "## New customers reached 1,500 in 2026-06 (observed), up 48.5%." in text
    assert "**Decision (programmed: focus)** [new_customers]: Keep the mix." in text
    assert (row["input_tokens"], row["output_tokens"], row["attempts"]) == (1200, 80, 1)
    assert row["cost_usd"] == pytest.approx((300 * 3 + 900 * 3 * 1.25 + 80 * 15) / 1e6)
    assert [r["outcome"] for r in book.rows] == ["answered"] and book.rows[0]["purpose"] == "briefing"


def test_a_planted_wrong_number_is_caught_retried_with_the_list_then_corrected(payload, tmp_path, keyed, monkeypatch):
    answers = iter([draft(headline="Revenue reached 1,000,000 this month."), draft()])
    with FakeAnthropic(answer=lambda body: next(answers)) as fake:
        row, book = run(fake, monkeypatch, payload, tmp_path)
    assert row["writer"] == "llm" and row["attempts"] == 2
    feedback = fake.requests[1]["body"]["messages"][-1]["content"][0]
    assert feedback["type"] == "tool_result" and feedback["is_error"] and "1,000,000" in feedback["content"]
    assert [r["outcome"] for r in book.rows] == ["rejected_ungrounded", "answered"]


def test_still_ungrounded_after_the_retry_falls_back_to_the_labelled_template(payload, tmp_path, keyed, monkeypatch):
    with FakeAnthropic(answer=lambda body: draft(headline="Revenue reached 1,000,000 this month.")) as fake:
        row, _ = run(fake, monkeypatch, payload, tmp_path)
    assert row["writer"] == "template" and len(fake.requests) == 2
    assert row["fallback_reason"] == "ungrounded numbers: 1,000,000 (after 2 attempts)"
    assert row["ungrounded_numbers"] == "1,000,000" and row["cost_usd"] > 0
    text = (tmp_path / SPEC.id / "month-2026-06-01.md").read_text()
    assert "deterministic template — fallback: ungrounded numbers: 1,000,000" in text and "1,000,000 this" not in text


def test_malformed_answers_are_retried_then_fall_back(payload, tmp_path, keyed, monkeypatch):
    bad = {"headline": "x", "sections": [], "recommendations": [
        {"text": "y", "classification": {"kind": "action", "type": "programmed", "detail": "focus"}}]}
    with FakeAnthropic(answer=lambda body: bad) as fake:
        row, book = run(fake, monkeypatch, payload, tmp_path)
    assert row["writer"] == "template" and len(fake.requests) == 2
    assert "sections" in row["fallback_reason"] and "cannot be of type programmed" in row["fallback_reason"]
    assert "sections" in fake.requests[1]["body"]["messages"][-1]["content"][0]["content"]
    assert [r["outcome"] for r in book.rows] == ["rejected_schema", "rejected_schema"]


def test_an_answer_without_the_tool_is_a_labelled_failure(payload, tmp_path, keyed, monkeypatch):
    with FakeAnthropic(answer=lambda body: None) as fake:
        row, book = run(fake, monkeypatch, payload, tmp_path)
    assert row["writer"] == "template" and row["fallback_reason"].startswith("malformed answer: no submit_briefing")
    assert book.rows[0]["outcome"] == "malformed"


@pytest.mark.parametrize("status", [429, 529, 500])
def test_transient_errors_use_the_sdk_retries(payload, tmp_path, keyed, monkeypatch, status):
    with FakeAnthropic(answer=lambda body: draft(), statuses=(status, status, 200)) as fake:
        row, _ = run(fake, monkeypatch, payload, tmp_path)
    assert row["writer"] == "llm" and len(fake.requests) == 3
    assert [r["headers"]["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2"]


def test_persistent_overload_falls_back_after_the_retries(payload, tmp_path, keyed, monkeypatch):
    with FakeAnthropic(answer=lambda body: draft(), statuses=(529,)) as fake:
        row, book = run(fake, monkeypatch, payload, tmp_path)
    assert len(fake.requests) == 3  # the first try and max_retries=2
    assert row["writer"] == "template" and row["fallback_reason"] == "LLM call failed: OverloadedError (HTTP 529)"
    assert book.rows[0]["outcome"] == "api_error" and book.rows[0]["cost_usd"] == 0


def test_a_timeout_falls_back(payload, tmp_path, keyed, monkeypatch):
    with FakeAnthropic(answer=lambda body: draft(), statuses=("stall",), stall_seconds=2) as fake:
        row, _ = run(fake, monkeypatch, payload, tmp_path, llm=AnthropicLLM(max_retries=0, timeout_seconds=0.3))
    assert row["writer"] == "template" and row["fallback_reason"] == "LLM call failed: APITimeoutError"


def test_the_run_cap_stops_calls_before_they_are_made(payload, tmp_path, keyed, monkeypatch):
    with FakeAnthropic(answer=lambda body: draft()) as fake:
        row, book = run(fake, monkeypatch, payload, tmp_path, book=ledger(cap_usd=0.001))
    assert fake.requests == [] and row["writer"] == "template"
    assert row["fallback_reason"].startswith("run LLM cost cap reached") and book.rows == []


def test_without_a_key_no_request_is_made_and_the_template_grounds_itself(payload, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    row = write_briefing(SPEC, payload, AnthropicLLM(), ledger(), tmp_path, LOG)
    assert row["writer"] == "template" and row["fallback_reason"] == "no ANTHROPIC_API_KEY"
    assert row["grounded_ratio"] == 1.0 and row["ungrounded_numbers"] is None


def test_the_key_is_never_written(payload, tmp_path, keyed, monkeypatch):
    with FakeAnthropic(answer=lambda body: draft()) as fake:
        row, book = run(fake, monkeypatch, payload, tmp_path)
    headers = fake.requests[0]["headers"]
    assert KEY in (headers.get("x-api-key", "") + headers.get("authorization", ""))  # it reached the API, nowhere else
    written = "".join(p.read_text(errors="ignore") for p in tmp_path.rglob("*") if p.is_file())
    assert KEY not in written and KEY not in json.dumps(row, default=str) and KEY not in json.dumps(book.rows, default=str)


def test_a_waterfall_is_drawn_for_the_change_narrated_and_none_for_noise(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    drift = drift_rows()
    star = drift["metric_id"] == SPEC.north_star
    # the north star's change on the previous period is noise, on a year before it is material
    drift.loc[star, "verdict"] = drift.loc[star, "baseline"].map({"previous": "normal variation", "year_ago": "material"})
    base = inputs(monthly_values(1500.0))
    payload = build_payload(SPEC, BriefingInputs(**{**base.__dict__, "drift": drift}))
    write_briefing(SPEC, payload, AnthropicLLM(), ledger(), tmp_path, LOG)
    text = (tmp_path / SPEC.id / "month-2026-06-01.md").read_text()
    star_line = next(line for line in text.splitlines() if line.startswith(f"- **{SPEC.north_star}**"))
    assert "vs a year before" in star_line
    charts = sorted(p.name for p in (tmp_path / SPEC.id).glob("*-waterfall.png"))
    assert charts == [f"month-2026-06-01-{SPEC.north_star}-waterfall.png"]  # leads: within noise, no chart
    assert f"]({charts[0]})" in text and "leads waterfall" not in text


def test_the_first_period_briefing_replaces_the_no_period_placeholder(payload, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    empty = build_payload(SPEC, inputs(monthly_values(1500.0).iloc[:0]))
    assert empty["period"] is None
    write_briefing(SPEC, empty, AnthropicLLM(), ledger(), tmp_path, LOG)
    assert (tmp_path / SPEC.id / "no-period.md").exists()
    write_briefing(SPEC, payload, AnthropicLLM(), ledger(), tmp_path, LOG)
    assert sorted(p.name for p in (tmp_path / SPEC.id).glob("*.md")) == ["month-2026-06-01.md"]
