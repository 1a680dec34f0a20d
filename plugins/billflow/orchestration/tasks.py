"""TaskFlow tasks of the billflow DAGs: thin calls of billflow.orchestration.steps. DAG files only wire them.

Heavy modules (duckdb, pyarrow, great_expectations) are imported inside the steps so that parsing a DAG
file stays fast. Every task that ends a run (`finish_load`, `finish_close`) runs whatever failed before
it: it gives the run lock back, records what could not be loaded or locked, and fails the run visibly
when a person must act.
"""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta
from typing import Any

from airflow.sdk import AssetAlias, PokeReturnValue, get_current_context, task
from airflow.task.trigger_rule import TriggerRule

from billflow.orchestration.assets import DBT_NODES_ALIAS, PUBLISHED_PERIODS_ALIAS

log = logging.getLogger(__name__)

DUCKDB_POOL = "billflow_duckdb"  # one writer at a time on the embedded DuckDB files
STAGING_POOL = "billflow_staging"  # bounds parallel staging queries

DEFAULT_ARGS = {
    "retries": int(os.environ.get("BILLFLOW_TASK_RETRIES", "2")),
    "retry_delay": timedelta(minutes=5),
}
SENSED_KEY = "sensed"


def _settings():
    from billflow.config import load_settings

    return load_settings()


def _holder():
    from billflow.control.runlock import Holder

    context = get_current_context()
    return Holder.dag_run(context["dag"].dag_id, context["run_id"])


def _partition_label(delivery: dict[str, Any]) -> str:
    return f"{delivery['payer_account_id']} {delivery['billing_period'][:7]}"


@task.sensor(poke_interval=600, timeout=6 * 3600, mode="reschedule", soft_fail=True, pool=DUCKDB_POOL)
def sense_new_deliveries() -> PokeReturnValue:
    """Done when the landing zone holds a delivery to load, a delivery that needs a person, or the live
    warehouse must be rebuilt. With the run parameter force_reload every complete delivery is loaded again;
    with wait_for_deliveries false a run with nothing to load ends at once (its tasks skipped)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from billflow.orchestration import steps

    context = get_current_context()
    params = context["params"]
    sensed = steps.sense(_settings(), force_reload=bool(params.get("force_reload", False)))
    context["ti"].xcom_push(key=SENSED_KEY, value=sensed.to_dict())
    # a run a manifest event started has nothing to wait for: a duplicate or late event finds it loaded
    started_by_event = context["dag_run"].run_type == "asset_triggered"
    if not sensed.needs_run and (started_by_event or not params.get("wait_for_deliveries", True)):
        raise AirflowSkipException("nothing to load: no new delivery, none needs a person, the warehouse is current")
    return PokeReturnValue(is_done=sensed.needs_run, xcom_value=[d.to_dict() for d in sensed.to_load])


@task(pool=DUCKDB_POOL)
def begin_run() -> str:
    """Take the run lock (one load or close at a time) and repair what an interrupted run left."""
    from billflow.orchestration import steps

    holder = _holder()
    steps.start_run(_settings(), holder)
    return holder.name


@task(pool=STAGING_POOL, map_index_template="{{ partition_label }}")
def stage(delivery: dict[str, Any]) -> dict[str, Any]:
    """Stage one delivery into a new version of its partition; what is live is untouched."""
    get_current_context()["partition_label"] = _partition_label(delivery)
    from billflow.formats.manifest import Delivery
    from billflow.orchestration import steps

    return steps.stage_partition(_settings(), Delivery.from_dict(delivery)).to_dict()


@task(map_index_template="{{ partition_label }}")
def gate(staged: dict[str, Any]) -> dict[str, Any]:
    """Great Expectations gate: the version must reconcile with its raw lines, or it is deleted."""
    get_current_context()["partition_label"] = _partition_label(staged["delivery"])
    from billflow.orchestration import steps

    return steps.gate_partition(_settings(), steps.Candidate.from_dict(staged)).to_dict()


@task(pool=DUCKDB_POOL, trigger_rule=TriggerRule.ALL_DONE)
def plan_release(gated: list[dict[str, Any]] | None, begun: str | None) -> dict[str, Any]:
    """The partitions that passed their gate (a failed one keeps its live version) and every version the
    candidate warehouse is built from; skips the build when there is nothing to release."""
    from airflow.sdk.exceptions import AirflowSkipException

    from billflow.control.runlock import check_held
    from billflow.engines.factory import serving_database
    from billflow.orchestration import steps

    if begun is None:
        raise AirflowSkipException("the run did not start (see begin_run)")
    settings = _settings()
    db = serving_database(settings)
    try:
        check_held(db, _holder())
    finally:
        db.close()
    # the gated partitions (a failed gate pushes nothing); Airflow hands a lone one over unwrapped
    passed = [gated] if isinstance(gated, dict) else list(gated or [])
    candidates = [steps.Candidate.from_dict(item) for item in passed if item]
    plan = steps.plan_release(settings, candidates, steps.warehouse_is_stale(settings))
    if plan is None:
        raise AirflowSkipException("nothing to release: no new delivery passed its gate and the warehouse is current")
    return plan.to_dict()


@task(pool=DUCKDB_POOL)
def register_staged_partitions(plan: dict[str, Any]) -> list[str]:
    """Redshift warehouse: the release's staged versions become partitions of the Glue tables Spectrum reads
    (nothing goes live: the candidate copies its versions by name); a DuckDB warehouse registers nothing."""
    from billflow.orchestration import steps

    return steps.register_staged_partitions(_settings(), steps.Plan.from_dict(plan))


@task(pool=DUCKDB_POOL)
def prepare_warehouse(plan: dict[str, Any]) -> str:
    """A new candidate warehouse holding the release's staged versions (the live one is untouched)."""
    from billflow.orchestration import steps

    parsed = steps.Plan.from_dict(plan)
    steps.prepare_warehouse(_settings(), parsed)
    return parsed.release_id


def dbt_build(build: str, task_id: str | None = None) -> Any:
    """The `dbt build` task of `build` (warehouse or serving; task id dbt_build_<build> unless given), whose
    model and seed Assets it updates."""
    outlets = [AssetAlias(DBT_NODES_ALIAS[build])]
    return _dbt_build.override(task_id=task_id or f"dbt_build_{build}", outlets=outlets)(build)


@task(pool=DUCKDB_POOL)
def _dbt_build(build: str) -> dict[str, int]:
    """`dbt build` of the warehouse models (in the candidate) or the serving models (in the shadow): every
    model, seed and data test; one failed test fails the task and nothing after it runs. The log lists each
    node with its status and time; each model and seed gets an Asset event (status, seconds, tests passed on
    it are in the build's log); the return value counts the nodes built."""
    from airflow.sdk import Asset

    from billflow.orchestration import steps
    from billflow.orchestration.assets import dbt_node_uri

    events = get_current_context()["outlet_events"][AssetAlias(DBT_NODES_ALIAS[build])]

    def record(nodes: list[steps.BuiltNode]) -> None:
        for node in nodes:
            if node.resource_type in ("model", "seed"):
                asset = Asset(dbt_node_uri(build, node.resource_type, node.name), group="billflow-dbt")
                events.add(asset, extra={"status": node.status, "seconds": node.seconds})

    return steps.build_models(_settings(), build, on_built=record)


@task(pool=DUCKDB_POOL)
def publish_to_serving() -> dict[str, int]:
    """Copy the tested candidate marts into the serving shadow (checked to the cent); nothing is live yet."""
    from billflow.orchestration import steps

    return steps.publish(_settings()).rows


@task(pool=DUCKDB_POOL, outlets=[AssetAlias(PUBLISHED_PERIODS_ALIAS)])
def release(plan: dict[str, Any]) -> list[str]:
    """Make the release live in one transaction (staged versions, ledger, serving), then the warehouse;
    one Asset event per published billing period."""
    from airflow.sdk import Asset

    from billflow.orchestration import steps
    from billflow.orchestration.assets import published_period_uri

    context = get_current_context()
    periods = steps.release(_settings(), steps.Plan.from_dict(plan), context["run_id"], _holder())
    for period in periods:
        context["outlet_events"][AssetAlias(PUBLISHED_PERIODS_ALIAS)].add(
            Asset(published_period_uri(period), group="billflow"), extra={"billing_period": period}
        )
    return periods


@task(pool=DUCKDB_POOL)
def publish_portal() -> dict[str, int]:
    """Copy serving's live invoices, lines, daily costs and locks into the portal's MySQL database
    (BILLFLOW_PORTAL_MYSQL_CONN_ID), every period atomically; skipped when none is configured."""
    from airflow.sdk.exceptions import AirflowSkipException

    from billflow.orchestration import steps

    rows = steps.publish_portal(_settings())
    if rows is None:
        raise AirflowSkipException("no portal database: BILLFLOW_PORTAL_MYSQL_CONN_ID is not set")
    return rows


@task(pool=DUCKDB_POOL)
def export_focus() -> list[str]:
    """Write the live FOCUS 1.2 mart as one Parquet file per billing period to BILLFLOW_EXPORT_URI."""
    from billflow.orchestration import steps

    return steps.export_focus(_settings())


@task(pool=DUCKDB_POOL, trigger_rule=TriggerRule.ALL_DONE)
def finish_load(begun: str | None, plan: dict[str, Any] | None, released: list[str] | None) -> list[str]:
    """Give the run lock back, remove what was not released, record the deliveries that were not loaded,
    and fail while any of them needs a person (each named, with why) or the release did not happen."""
    from billflow.orchestration import steps

    settings = _settings()
    sensed_dict = get_current_context()["ti"].xcom_pull(task_ids="sense_new_deliveries", key=SENSED_KEY)
    sensed = steps.Sensed.from_dict(sensed_dict) if sensed_dict else None
    try:
        if begun is not None:
            steps.remove_unreleased(settings)
        lines = steps.report_deliveries(settings, sensed)
    finally:
        if begun is not None:
            steps.end_run(settings, _holder())
    for line in lines:
        log.info(line)
    if sensed is not None and sensed.needs_run and begun is None:
        raise steps.RunNotStarted("the load did not start: begin_run failed (see its log)")
    if plan is not None and released is None:
        raise steps.ReleaseFailed(f"release {plan['release_id']} did not go live: a check failed (see the failed task)")
    return lines


@task(pool=DUCKDB_POOL)
def begin_close() -> str:
    """Take the run lock and rebuild the serving shadow from the live published marts."""
    from billflow.orchestration import steps

    holder = _holder()
    settings = _settings()
    steps.start_run(settings, holder)
    steps.prepare_serving_rebuild(settings)
    return holder.name


@task(pool=DUCKDB_POOL)
def lock_final_invoices() -> dict[str, Any]:
    """Freeze every final invoice of a finished month from the tested serving models; locked invoices never
    change. Invoices whose preconditions fail are not locked (finish_close names them)."""
    from billflow.orchestration import steps

    return steps.lock_invoices(_settings(), _as_of_date(get_current_context()), _holder()).to_dict()


@task(pool=DUCKDB_POOL)
def release_serving() -> str:
    """Make the rebuilt, tested serving shadow live."""
    from billflow.orchestration import steps

    return steps.release_serving(_settings(), get_current_context()["run_id"], _holder())


@task(pool=DUCKDB_POOL, trigger_rule=TriggerRule.ALL_DONE)
def finish_close(begun: str | None, locked: dict[str, Any] | None, released: str | None) -> list[str]:
    """Give the run lock back; fail when invoices due could not be locked (each named, with why)."""
    from billflow.billing.close import CloseResult
    from billflow.orchestration import steps

    if begun is not None:
        steps.end_run(_settings(), _holder())
    if begun is None:
        raise steps.RunNotStarted("the close did not start: begin_close failed (see its log)")
    if locked is None or released is None:
        raise steps.ReleaseFailed("the close did not finish: a check failed (see the failed task)")
    lines = steps.report_close(_settings(), CloseResult.from_dict(locked))
    for line in lines:
        log.info(line)
    return lines


def _as_of_date(context: Any) -> date:
    """The close runs as of the run parameter as_of when given, else the end of its data interval (today
    for manual and asset-triggered runs)."""
    as_of = (context.get("params") or {}).get("as_of")
    if as_of:
        return date.fromisoformat(as_of)
    end = context.get("data_interval_end") or context.get("logical_date")
    return end.date() if end is not None else date.today()
