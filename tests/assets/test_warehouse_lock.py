"""The run lock: a second holder waits, says whom it waits for, and gives up after its timeout."""

import pytest

from assets.warehouse_lock import WarehouseBusy, exclusive, hold_warehouse, lock_path


def test_a_second_holder_waits_names_the_first_and_times_out(tmp_path):
    database, said = tmp_path / "w.duckdb", []
    with hold_warehouse(database, "dagster run first", timeout=1):
        with pytest.raises(WarehouseBusy, match=r"stayed busy with dagster run first \(pid \d+"):
            with hold_warehouse(database, "dagster run second", timeout=0.3, log=said.append):
                pass
    assert len(said) == 1 and said[0].startswith(f"warehouse {database} is busy with dagster run first")
    with hold_warehouse(database, "dagster run third", timeout=0):  # released when the first left
        assert "dagster run third" in lock_path(database).read_text()


def test_released_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with exclusive(tmp_path / "x.lock", "failing step", timeout=0):
            raise RuntimeError("step failed")
    with exclusive(tmp_path / "x.lock", "next", timeout=0):
        pass
