"""Resources: one DuckDB path shared by Python and dbt, the dbt CLI, and the LLM writer."""

from __future__ import annotations

from dagster_duckdb import DuckDBResource

from assets.narrative import AnthropicWriter
from assets.settings import Settings
from orchestration.dbt import dbt_resource


def build_resources(settings: Settings) -> dict:
    settings.export()  # dbt's profiles.yml reads BUDGETLENS_DUCKDB: the very same file
    return {
        "duckdb": DuckDBResource(database=str(settings.duckdb_path)),
        "dbt": dbt_resource(),
        "llm": AnthropicWriter(model=settings.llm_model),
    }
