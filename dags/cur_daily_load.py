"""Daily load: new CUR deliveries -> staged versions (gated) -> candidate warehouse (dbt, tested) ->
serving shadow (dbt, tested) -> one release makes it all live -> Asset events, FOCUS export.

A partition whose staging or gate fails keeps its live version; the others go live. finish_load, which
runs whatever failed before it, gives the run lock back and fails the run while a delivery needs a person.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task_group

from billflow.orchestration import tasks
from billflow.orchestration.assets import daily_load_schedule


@dag(
    dag_id="cur_daily_load",
    schedule=daily_load_schedule(),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.DEFAULT_ARGS,
    params={
        "force_reload": Param(False, type="boolean", description="Reload every delivery, loaded or not"),
        "wait_for_deliveries": Param(
            True,
            type="boolean",
            description="Wait (poking every 10 minutes) until there is something to load; "
            "false ends the run at once when there is nothing to load",
        ),
    },
    tags=["billflow", "cur"],
    doc_md=__doc__,
)
def cur_daily_load():
    deliveries = tasks.sense_new_deliveries()
    begun = tasks.begin_run()
    deliveries >> begun

    @task_group
    def stage_partition(delivery: dict) -> dict:
        """One (payer, billing period): stage a new version, then gate it."""
        staged = tasks.stage(delivery)
        begun >> staged
        return tasks.gate(staged)

    gated = stage_partition.expand(delivery=deliveries)
    plan = tasks.plan_release(gated, begun)
    warehouse = tasks.dbt_build("warehouse")
    published = tasks.publish_to_serving()
    serving = tasks.dbt_build("serving")
    released = tasks.release(plan)
    registered = tasks.register_staged_partitions(plan)
    registered >> tasks.prepare_warehouse(plan) >> warehouse >> published >> serving >> released
    released >> tasks.export_focus()
    portal = tasks.publish_portal()
    released >> portal >> tasks.finish_load(begun, plan, released)


cur_daily_load()
