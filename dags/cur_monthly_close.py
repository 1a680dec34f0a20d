"""Monthly close: rebuild and test the serving models, lock the final invoices of finished months from
them, rebuild and test again, then make the result live. Invoices whose preconditions fail are not
locked; finish_close names them and fails the run."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import AssetAlias, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag

from billflow.orchestration import tasks
from billflow.orchestration.assets import PUBLISHED_PERIODS_ALIAS


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
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Close as of this day (YYYY-MM-DD); by default the end of the run's data interval",
        )
    },
    tags=["billflow", "invoices"],
    doc_md=__doc__,
)
def cur_monthly_close():
    begun = tasks.begin_close()
    checked = tasks.dbt_build("serving", task_id="dbt_build_serving_before_lock")
    locked = tasks.lock_final_invoices()
    serving = tasks.dbt_build("serving")
    released = tasks.release_serving()
    begun >> checked >> locked >> serving >> released
    released >> tasks.publish_portal() >> tasks.finish_close(begun, locked, released)


cur_monthly_close()
