"""The instance `budgetlens run` and `budgetlens ui` use: the repo's dagster.yaml in a fresh DAGSTER_HOME."""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from assets.settings import Settings
from orchestration.cli import dagster_home
from orchestration.event_log import OPEN_RUN_SHARDS, PooledSqliteEventLogStorage
from orchestration.jobs import range_tags

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-11")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_numbers(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"days {context.partition_key_range}")


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", raising=False)
    home = dagster_home(Settings.from_env())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _planned(instance, run_id: str) -> list:
    return [event for event in instance.all_logs(run_id)
            if event.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED]


def test_a_range_run_records_every_day_once_and_plans_it_in_one_event(instance):
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    result = dg.materialize([daily_numbers], instance=instance,
                            tags=range_tags(dt.date(2026, 1, 2), dt.date(2026, 1, 8)))
    assert result.success
    days = {f"2026-01-0{day}" for day in range(2, 9)}
    assert instance.get_materialized_partitions(daily_numbers.key) == days
    planned = _planned(instance, result.run_id)
    assert len(planned) == 1  # not seven: the CLI turned Dagster's planned-event subsets on
    assert set(planned[0].dagster_event.event_specific_data.partitions_subset.get_partition_keys()) == days
    # Dagster's own storage reads the same files
    stock = SqliteEventLogStorage(instance.event_log_storage._base_dir)
    try:
        assert stock.get_materialized_partitions(daily_numbers.key) == days
    finally:
        stock.dispose()


def test_events_are_visible_to_another_process_as_soon_as_they_are_written(instance):
    other = SqliteEventLogStorage(instance.event_log_storage._base_dir)
    try:
        result = dg.materialize([daily_numbers], instance=instance, partition_key="2026-01-05")
        assert {e.dagster_event_type for e in other.get_logs_for_run(result.run_id)} >= {
            dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.RUN_SUCCESS}
    finally:
        other.dispose()


def test_run_databases_left_open_are_bounded_and_wiping_closes_them(instance):
    storage = instance.event_log_storage
    runs = [dg.materialize([daily_numbers], instance=instance, partition_key=f"2026-01-0{day}").run_id
            for day in range(1, 8)]
    open_runs = [name for name in storage._engines if name != "index"]
    assert len(open_runs) <= OPEN_RUN_SHARDS and runs[-1] in open_runs
    assert len(storage.get_logs_for_run(runs[0])) > 0  # a closed run database opens again to read
    instance.wipe()
    assert storage.get_logs_for_run(runs[-1]) == [] and instance.get_materialized_partitions(daily_numbers.key) == set()
    again = dg.materialize([daily_numbers], instance=instance, partition_key="2026-01-09")
    assert instance.get_materialized_partitions(daily_numbers.key) == {"2026-01-09"}
    assert len(storage.get_logs_for_run(again.run_id)) > 0


def test_event_databases_commit_in_wal_mode_without_waiting_for_the_disk(instance):
    dg.materialize([daily_numbers], instance=instance, partition_key="2026-01-03")
    engines = instance.event_log_storage._engines
    assert "index" in engines and len(engines) >= 2  # the index and the run's own database
    for engine in engines.values():
        with engine.connect() as conn:
            # NORMAL is safe against a killed process only in WAL mode (Dagster creates its databases in it)
            assert conn.exec_driver_sql("pragma journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("pragma synchronous").scalar() == 1  # NORMAL (FULL is 2)


def test_a_table_found_in_the_index_is_not_looked_for_again(instance, monkeypatch):
    looked = []
    stock = SqliteEventLogStorage.has_table
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda self, name: looked.append(name) or stock(self, name))
    result = dg.materialize([daily_numbers], instance=instance,
                            tags=range_tags(dt.date(2026, 1, 2), dt.date(2026, 1, 8)))
    assert result.success and len(instance.get_materialized_partitions(daily_numbers.key)) == 7
    assert looked.count("asset_event_tags") == 1  # seven asset events, one look
    assert instance.event_log_storage.has_table("asset_event_tags") and not instance.event_log_storage.has_table("none")
    assert looked.count("none") == 1  # a table not there is looked for every time it is asked about
