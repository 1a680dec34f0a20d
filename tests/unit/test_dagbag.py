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


def test_the_daily_load_stages_each_partition_in_a_mapped_group_gated_before_dbt():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "cur_daily_load.py")).dags["cur_daily_load"]
    task_ids = set(dag.task_ids)

    assert {"stage_partition.stage", "stage_partition.gate", "stage_partition.promote"} <= task_ids
    dbt_tasks = sorted(t for t in task_ids if t.startswith("dbt_warehouse."))
    # one `dbt build` task per model (the model, then its tests), plus reconciliation tests across models
    assert {f"dbt_warehouse.{m}_model_build" for m in ("daily_costs", "invoice_lines", "invoices")} <= task_ids
    assert "dbt_warehouse.assert_daily_costs_reconcile_to_staged_test" in task_ids
    first_dbt = [dag.get_task(t) for t in dbt_tasks if not dag.get_task(t).upstream_task_ids & set(dbt_tasks)]
    assert first_dbt and all("stage_partition.promote" in t.upstream_task_ids for t in first_dbt)
    assert dag.get_task("publish_to_serving").upstream_task_ids <= {t for t in dbt_tasks}
