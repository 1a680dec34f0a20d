"""Daily load: new CUR deliveries -> staged partitions (gated) -> dbt warehouse -> serving -> Asset events.

The FOCUS 1.2 export (one Parquet file per billing period) runs after the warehouse, beside publishing.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task_group
from billflow.orchestration import tasks
from billflow.orchestration.dbt_groups import dbt_task_group


@task_group
def stage_partition(delivery: dict) -> dict:
    """One (payer, billing period): stage a candidate, gate it, then replace the live partition."""
    return tasks.promote(tasks.gate(tasks.stage(delivery)))


@dag(
    dag_id="cur_daily_load",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.DEFAULT_ARGS,
    params={"force_reload": Param(False, type="boolean", description="Reload every delivery, loaded or not")},
    tags=["billflow", "cur"],
    doc_md=__doc__,
)
def cur_daily_load():
    deliveries = tasks.sense_new_deliveries()
    staged = stage_partition.expand(delivery=deliveries)
    warehouse = dbt_task_group("dbt_warehouse", target="warehouse", select=["tag:warehouse", "path:seeds"])
    published = tasks.publish_to_serving()
    serving = dbt_task_group("dbt_serving", target="serving", select=["tag:serving"])
    control = tasks.prepare_control_tables()
    control >> deliveries
    staged >> warehouse >> published >> serving
    warehouse >> tasks.export_focus()
    serving >> tasks.record_loads(staged)


cur_daily_load()
