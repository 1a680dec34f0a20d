"""The DAG files import cleanly and parse fast: the scheduler re-parses them all the time."""

from pathlib import Path

from tests.conftest import ROOT

MANIFEST = ROOT / "dbt_project" / "target" / "manifest.json"


def test_dag_files_import_without_errors_and_each_parses_in_under_two_seconds():
    from airflow.dag_processing.dagbag import DagBag

    assert MANIFEST.exists(), "run `make dbt-parse` first: Cosmos renders the dbt project from its manifest"
    bag = DagBag(dag_folder=str(ROOT / "dags"))

    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"cur_daily_load", "cur_monthly_close"}
    durations = {Path(stat.file).name: stat.duration for stat in bag.dagbag_stats}
    assert set(durations) == {"cur_daily_load.py", "cur_monthly_close.py"}
    slow = {name: seconds for name, seconds in durations.items() if _seconds(seconds) >= 2.0}
    assert slow == {}


def _seconds(duration) -> float:
    return duration.total_seconds() if hasattr(duration, "total_seconds") else float(duration)


def _dag(name: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / f"{name}.py")).dags[name]


def _ancestors(dag, task_id: str) -> set[str]:
    return {task.task_id for task in dag.get_task(task_id).get_flat_relatives(upstream=True)}


def _leaves(dag, group: str) -> set[str]:
    members = {t for t in dag.task_ids if t.startswith(f"{group}.")}
    return {t for t in members if not dag.get_task(t).downstream_task_ids & members}


def test_the_daily_load_releases_only_after_every_dbt_model_and_test_of_the_candidate_passed():
    dag = _dag("cur_daily_load")
    warehouse = {t for t in dag.task_ids if t.startswith("dbt_warehouse.")}
    serving = {t for t in dag.task_ids if t.startswith("dbt_serving.")}

    assert {f"dbt_warehouse.{m}_model_build" for m in ("daily_costs", "invoice_lines", "invoices")} <= warehouse
    assert "dbt_warehouse.assert_daily_costs_reconcile_to_staged_test" in warehouse
    assert dag.get_task("stage_partition.stage").upstream_task_ids == {"begin_run", "sense_new_deliveries"}
    assert dag.get_task("stage_partition.gate").upstream_task_ids == {"stage_partition.stage"}
    assert dag.get_task("plan_release").upstream_task_ids == {"stage_partition.gate", "begin_run"}
    assert dag.get_task("prepare_warehouse").upstream_task_ids == {"plan_release"}
    first = {t for t in warehouse if not dag.get_task(t).upstream_task_ids & warehouse}
    assert first and all(dag.get_task(t).upstream_task_ids == {"prepare_warehouse"} for t in first)
    assert dag.get_task("publish_to_serving").upstream_task_ids == _leaves(dag, "dbt_warehouse")
    first_serving = {t for t in serving if not dag.get_task(t).upstream_task_ids & serving}
    assert all(dag.get_task(t).upstream_task_ids == {"publish_to_serving"} for t in first_serving)
    assert dag.get_task("release").upstream_task_ids == _leaves(dag, "dbt_serving") | {"plan_release"}
    assert warehouse | serving <= _ancestors(dag, "release")
    assert dag.get_task("export_focus").upstream_task_ids == {"release"}


def test_the_runs_last_tasks_run_whatever_failed_and_give_the_lock_back():
    load, close = _dag("cur_daily_load"), _dag("cur_monthly_close")

    assert load.get_task("plan_release").trigger_rule == "all_done"
    assert load.get_task("finish_load").trigger_rule == "all_done"
    assert load.get_task("finish_load").upstream_task_ids == {"begin_run", "plan_release", "release"}
    assert close.get_task("finish_close").trigger_rule == "all_done"
    assert close.get_task("finish_close").upstream_task_ids == {"begin_close", "lock_final_invoices", "release_serving"}


def test_the_close_locks_after_a_tested_serving_build_and_releases_after_a_second_one():
    dag = _dag("cur_monthly_close")
    before = {t for t in dag.task_ids if t.startswith("dbt_serving_before_lock.")}
    after = {t for t in dag.task_ids if t.startswith("dbt_serving.")}

    assert before and after
    assert dag.get_task("lock_final_invoices").upstream_task_ids == _leaves(dag, "dbt_serving_before_lock")
    assert before <= _ancestors(dag, "lock_final_invoices")
    assert dag.get_task("release_serving").upstream_task_ids == _leaves(dag, "dbt_serving")
    assert after | {"lock_final_invoices", "begin_close"} <= _ancestors(dag, "release_serving")
