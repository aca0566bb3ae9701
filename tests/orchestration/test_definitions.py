import datetime as dt
import json

import dagster as dg
import pytest
import yaml

from assets.settings import Settings
from orchestration.cli import main
from orchestration.dbt import run_days
from orchestration.definitions import build_definitions
from orchestration.jobs import RANGE_END, RANGE_START, landing_files_sensor
from tests.models.test_spec import VALID


@pytest.fixture(scope="module")
def defs():
    return build_definitions(Settings.from_env())


def test_definitions_load_with_job_schedule_and_sensor(defs):
    assert defs.resolve_job_def("budgetlens") is not None
    assert defs.resolve_schedule_def("budgetlens_daily").cron_schedule == "15 2 * * *"
    assert defs.resolve_sensor_def("landing_files_sensor") is not None


def test_every_asset_is_described_owned_kinded_and_in_the_duckdb_pool(defs):
    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        spec = graph.get(key)
        assert spec.description, key
        assert spec.owners, key
        assert spec.kinds, key
    for assets_def in [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]:
        assert assets_def.op.pool == "duckdb", assets_def.op.name


def test_lineage_runs_from_ingestion_through_dbt_to_briefings(defs):
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("briefings")).parent_keys
    assert dg.AssetKey("metric_values") in upstream
    digests_parents = graph.get(dg.AssetKey("stg_events")).parent_keys
    assert digests_parents == {dg.AssetKey(["raw", "events"])}
    assert dg.AssetKey(["raw", "metric_catalog"]) in graph.get(dg.AssetKey("metric_values")).parent_keys


def test_sensor_requests_the_days_of_new_landing_files(tmp_path, monkeypatch):
    from tests.assets.conftest import SPEC
    import yaml

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "shop.yaml").write_text(yaml.safe_dump(SPEC))
    (tmp_path / "landing" / "shop").mkdir(parents=True)
    (tmp_path / "landing" / "shop" / "a.csv").write_text(
        "id,timestamp,measure,value,channel,campaign\n"
        "a,2026-01-03 10:00:00,visit,1,web,x\nb,2026-01-09 10:00:00,visit,1,web,x\n")
    monkeypatch.setenv("BUDGETLENS_SPECS", str(tmp_path / "specs"))
    monkeypatch.setenv("BUDGETLENS_LANDING", str(tmp_path / "landing"))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        request = landing_files_sensor(context)
        assert isinstance(request, dg.RunRequest)
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-01-03", "2026-01-09")
        assert list(json.loads(context.cursor)) == ["shop:shop/a.csv"]
        again = landing_files_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert isinstance(again, dg.SkipReason) and again.skip_message == "no new or changed landing files"


def test_sensor_runs_the_first_day_for_a_file_of_none_but_older_rows(tmp_path, monkeypatch):
    from tests.assets.conftest import SPEC
    import yaml

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "shop.yaml").write_text(yaml.safe_dump(SPEC))
    (tmp_path / "landing" / "shop").mkdir(parents=True)
    (tmp_path / "landing" / "shop" / "old.csv").write_text(
        "id,timestamp,measure,value,channel,campaign\na,2025-12-30 10:00:00,visit,1,web,x\n")
    monkeypatch.setenv("BUDGETLENS_SPECS", str(tmp_path / "specs"))
    monkeypatch.setenv("BUDGETLENS_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("BUDGETLENS_START_DATE", "2026-01-01")
    with dg.instance_for_test() as instance:
        request = landing_files_sensor(dg.build_sensor_context(instance=instance))
        # the first day's window quarantines its rows (a run of 2025-12-30 .. 2025-12-30 has no partition)
        assert isinstance(request, dg.RunRequest)
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-01-01", "2026-01-01")


def test_sensor_reads_a_documents_file_by_its_own_timestamp_column(tmp_path, monkeypatch):
    from tests.assets.conftest import SPEC
    import yaml

    documents = {"pattern": "shop/notes/*.csv", "timestamp": "written", "text": "note", "kind": "meeting_note"}
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "shop.yaml").write_text(yaml.safe_dump({**SPEC, "source": {**SPEC["source"], "documents": [documents]}}))
    (tmp_path / "landing" / "shop" / "notes").mkdir(parents=True)
    (tmp_path / "landing" / "shop" / "notes" / "w1.csv").write_text(
        "written,note,channel,campaign\n2026-01-05 09:00:00,Good week,web,x\n2026-01-06 09:00:00,Tired,web,x\n")
    monkeypatch.setenv("BUDGETLENS_SPECS", str(tmp_path / "specs"))
    monkeypatch.setenv("BUDGETLENS_LANDING", str(tmp_path / "landing"))
    with dg.instance_for_test() as instance:
        request = landing_files_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(request, dg.RunRequest)
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-01-05", "2026-01-06")


def test_repo_instance_config_limits_the_duckdb_pool():
    import yaml
    from assets.settings import PROJECT_ROOT

    config = yaml.safe_load((PROJECT_ROOT / "orchestration" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    with dg.instance_for_test(overrides={"concurrency": config["concurrency"]}) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_sensor_skips_with_the_reason_when_a_file_escapes_the_landing_folder(tmp_path, monkeypatch):
    from tests.assets.conftest import SPEC
    import yaml

    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "shop.yaml").write_text(yaml.safe_dump(SPEC))
    (tmp_path / "landing" / "shop").mkdir(parents=True)
    (tmp_path / "secret.csv").write_text("id\n")
    (tmp_path / "landing" / "shop" / "evil.csv").symlink_to(tmp_path / "secret.csv")
    monkeypatch.setenv("BUDGETLENS_SPECS", str(tmp_path / "specs"))
    monkeypatch.setenv("BUDGETLENS_LANDING", str(tmp_path / "landing"))
    with dg.instance_for_test() as instance:
        result = landing_files_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and "outside the landing folder" in result.skip_message


def test_dbt_version_is_the_installed_dbt_core_without_asking_the_executable(tmp_path):
    from dagster_dbt import DbtCliResource

    from orchestration.dbt import dbt_executable, dbt_project, dbt_resource

    asked = DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())._cli_version  # runs dbt --version
    assert dbt_resource()._cli_version == asked
    # an executable elsewhere is still asked (a missing one fails on the question)
    elsewhere = dbt_resource().model_copy(update={"dbt_executable": str(tmp_path / "dbt")})
    with pytest.raises(FileNotFoundError):
        elsewhere._cli_version


def test_dbt_runs_without_an_adapter_in_this_process(tmp_path):
    # the adapter dagster-dbt would build here serves only row counts and column metadata, which we never fetch
    from orchestration.dbt import dbt_project, dbt_resource

    invocation = dbt_resource().cli(["ls", "--select", "fct_digest_daily"], manifest=dbt_project.manifest_path,
                                    target_path=tmp_path / "target")
    assert invocation.adapter is None
    listed = [event.raw_event["data"].get("msg", "") for event in invocation.stream_raw_events()]
    assert invocation.is_successful()
    assert "budgetlens.marts.digests.fct_digest_daily" in listed


def test_a_run_s_days_come_from_its_partition_tags():
    assert run_days({RANGE_START: "2026-01-01", RANGE_END: "2026-01-31"}) == (dt.date(2026, 1, 1),
                                                                            dt.date(2026, 2, 1))
    assert run_days({"dagster/partition": "2026-03-05"}) == (dt.date(2026, 3, 5), dt.date(2026, 3, 6))
    assert run_days({}) is None  # an unpartitioned asset materialised alone
    assert run_days({"dagster/partition": "north"}) is None  # not a day's key


def test_manifest_fingerprint_follows_the_project_packages_and_settings_only(tmp_path):
    import shutil

    from assets.settings import DBT_PROJECT_DIR
    from orchestration.dbt import manifest_fingerprint

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    env = {"BUDGETLENS_DUCKDB": "/data/a.duckdb", "HOME": "/root"}
    first = manifest_fingerprint(project, env)
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}")  # dbt's own output is not an input
    assert manifest_fingerprint(project, {**env, "HOME": "/elsewhere"}) == first
    assert manifest_fingerprint(project, {**env, "BUDGETLENS_DUCKDB": "/data/b.duckdb"}) != first
    assert manifest_fingerprint(project, {**env, "DBT_TARGET_PATH": "x"}) != first
    model = project / "models" / "staging" / "stg_events.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert manifest_fingerprint(project, env) != first


def test_prepare_parses_only_when_the_manifest_inputs_changed(capsys):
    from assets.settings import DBT_PROJECT_DIR
    from orchestration.cli import prepare_dbt

    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    prepare_dbt(Settings.from_env())  # the session's settings: parsed at session start
    written = manifest.stat().st_mtime_ns
    assert "dbt manifest up to date" in capsys.readouterr().out
    (DBT_PROJECT_DIR / "target" / "manifest.fingerprint").unlink()
    prepare_dbt(Settings.from_env())
    assert "dbt manifest ready" in capsys.readouterr().out and manifest.stat().st_mtime_ns > written


def test_a_new_digest_window_does_not_make_dbt_parse_the_whole_project_again(tmp_path):
    """The window reaches dbt as environment variables read only when executing: a new window re-parses no
    file (one read while parsing re-parsed the five reading it; a changed --vars re-parses every file)."""
    import os
    import subprocess

    from assets.settings import DBT_PROJECT_DIR
    from orchestration.dbt import dbt_executable, digest_window

    def dbt(*args: str) -> list[str]:
        """Run dbt; the names of the events its invocation logged."""
        done = subprocess.run([dbt_executable(), "--log-format-file", "json", *args,
                               "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                               "--target-path", str(tmp_path), "--log-path", str(tmp_path)],
                              capture_output=True, text=True,
                              env={**os.environ, "BUDGETLENS_DUCKDB": str(tmp_path / "w.duckdb")})
        assert done.returncode == 0, done.stdout[-2000:]
        lines = (tmp_path / "dbt.log").read_text().splitlines()
        last = json.loads(lines[-1])["info"]["invocation_id"]
        return [json.loads(line)["info"]["name"] for line in lines if last in line]

    with digest_window(dt.date(2026, 1, 1), dt.date(2026, 1, 2)):
        dbt("parse")  # the first parse has no saved state
    with digest_window(dt.date(2026, 1, 2), dt.date(2026, 1, 3)):
        events = dbt("compile", "--select", "fct_digest_hourly")
        assert "PartialParsingSkipParsing" in events and "PartialParsingFile" not in events
    assert "BUDGETLENS_WINDOW_START" not in os.environ  # set around the dbt call only
    compiled = next(tmp_path.rglob("fct_digest_hourly.sql")).read_text()
    assert "day >= cast('2026-01-02' as date) and day < cast('2026-01-03' as date)" in compiled
    assert "UnableToPartialParse" in dbt("parse", "--vars", '{"window_start": "2026-01-02"}')  # what vars cost


def test_validate_names_each_budgets_clock_and_holiday_calendars(tmp_path, capsys):
    spec = {**VALID, "timezone": "America/New_York", "holidays": [{"country": "us"}, {"country": "CA", "subdivision": "ON"}]}
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(spec))
    assert main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("clock America/New_York, holidays US, CA-ON")
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump({**spec, "holidays": [{"country": "US", "subdivision": "XX"}]}))
    assert main(["validate", str(tmp_path)]) == 2  # a spec error: exit 2, the problem on stderr
    assert "shop.yaml: holidays.0.subdivision: US has no subdivision 'XX'" in capsys.readouterr().err
