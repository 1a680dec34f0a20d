"""Monthly close: lock the final invoices of finished months, then rebuild the serving models."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import AssetAlias, AssetOrTimeSchedule, CronTriggerTimetable, dag
from billflow.orchestration import tasks
from billflow.orchestration.assets import PUBLISHED_PERIODS_ALIAS
from billflow.orchestration.dbt_groups import dbt_task_group


@dag(
    dag_id="cur_monthly_close",
    # AWS restates closed months for about a week: close on the 8th, and whenever a period is published.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 8 * *", timezone="UTC"),
        assets=AssetAlias(PUBLISHED_PERIODS_ALIAS),
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.DEFAULT_ARGS,
    tags=["billflow", "invoices"],
    doc_md=__doc__,
)
def cur_monthly_close():
    control = tasks.prepare_control_tables()
    locked = tasks.lock_final_invoices()
    serving = dbt_task_group("dbt_serving", target="serving", select=["tag:serving"])
    control >> locked >> serving


cur_monthly_close()
