"""The DAG files import cleanly and parse fast (the scheduler re-parses them all the time), and their wiring is
the flow's one definition: the tests below pin every edge."""

from pathlib import Path

from tests.conftest import ROOT


def test_dag_files_import_without_errors_and_each_parses_in_under_two_seconds():
    from airflow.dag_processing.dagbag import DagBag

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


def _upstream(dag) -> dict[str, set[str]]:
    return {task_id: set(dag.get_task(task_id).upstream_task_ids) for task_id in dag.task_ids}


def test_the_daily_load_releases_only_after_the_warehouse_and_serving_builds_and_their_tests_passed():
    dag = _dag("cur_daily_load")

    assert _upstream(dag) == {
        "sense_new_deliveries": set(),
        "begin_run": {"sense_new_deliveries"},
        "stage_partition.stage": {"begin_run", "sense_new_deliveries"},
        "stage_partition.gate": {"stage_partition.stage"},
        "plan_release": {"stage_partition.gate", "begin_run"},
        "register_staged_partitions": {"plan_release"},
        "prepare_warehouse": {"plan_release", "register_staged_partitions"},
        "dbt_build_warehouse": {"prepare_warehouse"},
        "publish_to_serving": {"dbt_build_warehouse"},
        "dbt_build_serving": {"publish_to_serving"},
        "release": {"dbt_build_serving", "plan_release"},
        "export_focus": {"release"},
        "publish_portal": {"release"},
        "finish_load": {"begin_run", "plan_release", "release", "publish_portal"},
    }
    assert dag.get_task("dbt_build_warehouse").op_args == ("warehouse",)
    assert dag.get_task("dbt_build_serving").op_args == ("serving",)
    # staging and gating run once per delivery: the task group is mapped over the sensed deliveries
    mapped = {task_id: dag.get_task(task_id).get_closest_mapped_task_group() for task_id in dag.task_ids}
    assert {task_id: group.group_id for task_id, group in mapped.items() if group} == {
        "stage_partition.stage": "stage_partition",
        "stage_partition.gate": "stage_partition",
    }


def test_the_runs_last_tasks_run_whatever_failed_and_give_the_lock_back():
    load, close = _dag("cur_daily_load"), _dag("cur_monthly_close")

    assert load.get_task("plan_release").trigger_rule == "all_done"
    assert load.get_task("finish_load").trigger_rule == "all_done"
    assert close.get_task("finish_close").trigger_rule == "all_done"
    others = {t.task_id: t.trigger_rule for t in [*load.tasks, *close.tasks]}
    for last in ("plan_release", "finish_load", "finish_close"):
        others.pop(last)
    assert set(others.values()) == {"all_success"}


def test_the_close_locks_after_a_tested_serving_build_and_releases_after_a_second_one():
    dag = _dag("cur_monthly_close")

    assert _upstream(dag) == {
        "begin_close": set(),
        "dbt_build_serving_before_lock": {"begin_close"},
        "lock_final_invoices": {"dbt_build_serving_before_lock"},
        "dbt_build_serving": {"lock_final_invoices"},
        "release_serving": {"dbt_build_serving"},
        "publish_portal": {"release_serving"},
        "finish_close": {"begin_close", "lock_final_invoices", "release_serving", "publish_portal"},
    }
    assert dag.get_task("dbt_build_serving_before_lock").op_args == ("serving",)
    assert dag.get_task("dbt_build_serving").op_args == ("serving",)
