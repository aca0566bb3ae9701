"""Resources: one DuckDB path shared by Python and dbt, the dbt CLI, and the LLM writer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.llm import AnthropicLLM
from assets.settings import Settings
from assets.warehouse_lock import hold_warehouse
from orchestration.dbt import dbt_resource


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse, held by one run at a time.

    With the in-process executor a resource is set up once per run, so the run lock is taken before the
    first step that touches the file and released after the last (dbt steps require this resource for
    that reason): a second run waits for the first instead of failing on DuckDB's file lock.
    """

    lock_timeout_seconds: float  # BUDGETLENS_LOCK_TIMEOUT

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseResource"]:
        log = context.log.info if context.log else print
        what = f"dagster run {context.run_id}" if context.run_id else "a dagster step"
        with hold_warehouse(self.database, what, timeout=self.lock_timeout_seconds, log=log):
            yield self


def build_resources(settings: Settings) -> dict:
    settings.export()  # dbt's profiles.yml reads BUDGETLENS_DUCKDB: the very same file
    return {
        "duckdb": WarehouseResource(database=str(settings.duckdb_path),
                                    connection_config={"memory_limit": settings.duckdb_memory_limit},
                                    lock_timeout_seconds=settings.lock_timeout_seconds),
        "dbt": dbt_resource(),
        "llm": AnthropicLLM(model=settings.llm_model, run_cost_cap_usd=settings.llm_run_cost_cap_usd,
                            run_token_cap=settings.llm_run_token_cap, min_grounded_ratio=settings.llm_min_grounded_ratio),
    }
