"""Resources: one DuckDB path shared by Python and dbt, the dbt CLI, and the LLM writer."""

from __future__ import annotations

from dagster_duckdb import DuckDBResource

from assets.llm import AnthropicLLM
from assets.settings import Settings
from orchestration.dbt import dbt_resource


def build_resources(settings: Settings) -> dict:
    settings.export()  # dbt's profiles.yml reads BUDGETLENS_DUCKDB: the very same file
    return {
        "duckdb": DuckDBResource(database=str(settings.duckdb_path)),
        "dbt": dbt_resource(),
        "llm": AnthropicLLM(model=settings.llm_model, run_cost_cap_usd=settings.llm_run_cost_cap_usd,
                            run_token_cap=settings.llm_run_token_cap, min_grounded_ratio=settings.llm_min_grounded_ratio),
    }
