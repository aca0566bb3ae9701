"""What an LLM call costs: list prices per model family, cache pricing, and the worst case of a call.

Prices are USD per million tokens (Anthropic's published list prices for the
current Opus / Sonnet / Haiku tiers). A model outside these families is priced
at the dearest known tier unless the price is configured, so a cost cap errs on
the safe side. Cache writes cost 1.25x the input price, cache reads 0.1x.
"""

from __future__ import annotations

from dataclasses import dataclass

LIST_PRICES = {"opus": (5.0, 25.0), "sonnet": (3.0, 15.0), "haiku": (1.0, 5.0)}
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.10
CHARS_PER_TOKEN = 3.5  # conservative for JSON and English (the real count is usually lower)


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    basis: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


def price_for(model: str, input_per_mtok: float | None = None, output_per_mtok: float | None = None) -> Price:
    """The price of ``model``: configured, else its family's list price, else the dearest family's."""
    if input_per_mtok is not None and output_per_mtok is not None:
        return Price(input_per_mtok, output_per_mtok, "configured price")
    family = next((f for f in LIST_PRICES if f in model), None)
    if family is None:
        dearest = max(LIST_PRICES, key=lambda f: LIST_PRICES[f][1])
        return Price(*LIST_PRICES[dearest], f"unknown model family, priced as {dearest}")
    return Price(*LIST_PRICES[family], f"{family} list price")


def cost_usd(usage: Usage, price: Price) -> float:
    """Cost of one call's usage in USD."""
    per = 1e-6
    return (usage.input_tokens * price.input_per_mtok * per
            + usage.cache_creation_input_tokens * price.input_per_mtok * CACHE_WRITE_FACTOR * per
            + usage.cache_read_input_tokens * price.input_per_mtok * CACHE_READ_FACTOR * per
            + usage.output_tokens * price.output_per_mtok * per)


def estimate_tokens(text: str) -> int:
    """A generous token estimate of ``text`` (no network call: used for budgets and caps)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


def worst_case(prompt_chars: int, max_output_tokens: int, price: Price) -> tuple[int, float]:
    """Tokens and cost a call can reach at most: the whole prompt written to cache, full output."""
    tokens_in = int(prompt_chars / CHARS_PER_TOKEN) + 1
    usage = Usage(cache_creation_input_tokens=tokens_in, output_tokens=max_output_tokens)
    return tokens_in + max_output_tokens, cost_usd(usage, price)
