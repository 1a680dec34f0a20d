"""Assets the DAGs exchange: one Asset per published billing period, reached through an alias; and the
asset a landed CUR manifest updates when the landing bucket's object-created events reach an SQS queue."""

from __future__ import annotations

import os
import re
from typing import Any

PUBLISHED_PERIODS_ALIAS = "billflow-published-billing-periods"
LANDED_MANIFESTS_URI = "billflow://landing/manifests"
DELIVERY_QUEUE_SETTING = "BILLFLOW_DELIVERY_QUEUE_URL"
# an SQS queue URL: https://sqs.<region>.amazonaws.com/<account>/<name> (or a local endpoint's)
_QUEUE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?")


# one Asset per dbt model and seed of a build, reached through the alias of its build task: the UI's asset
# view shows each model with an event per load (status, seconds) without a task instance per model
DBT_NODES_ALIAS = {"warehouse": "billflow-dbt-warehouse-models", "serving": "billflow-dbt-serving-models"}


def dbt_node_uri(build: str, resource_type: str, name: str) -> str:
    return f"billflow://dbt/{build}/{resource_type}/{name}"


def published_period_uri(period_label: str) -> str:
    return f"billflow://serving/invoices/{period_label}"


def delivery_queue_url() -> str | None:
    """BILLFLOW_DELIVERY_QUEUE_URL, checked; None when the daily load runs on its schedule alone."""
    url = os.environ.get(DELIVERY_QUEUE_SETTING, "").strip()
    if url and not _QUEUE_URL.fullmatch(url):
        raise ValueError(f"{DELIVERY_QUEUE_SETTING}={url!r} is not an SQS queue URL")
    return url or None


def daily_load_schedule() -> Any:
    """The daily load's schedule: every day at 00:00 UTC and, with BILLFLOW_DELIVERY_QUEUE_URL set, as soon
    as a manifest lands: the landing bucket's object-created events for manifests (an S3 event notification
    with the suffix Manifest.json, or an EventBridge rule) reach that SQS queue, and an AssetWatcher with the
    Amazon provider's SQS trigger turns them into events of the asset LANDED_MANIFESTS_URI. However many
    events arrive, and in whatever order, a run loads what the landing zone holds then and the next finds
    nothing new (the ledger), so a delivery is loaded once."""
    from airflow.sdk import CronTriggerTimetable

    daily = CronTriggerTimetable("0 0 * * *", timezone="UTC")
    url = delivery_queue_url()
    if url is None:
        return daily
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger
    from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher

    from billflow.config import load_settings

    trigger = SqsSensorTrigger(
        sqs_queue=url,
        aws_conn_id=load_settings().aws_conn_id,
        max_messages=10,
        waiter_delay=30,
    )
    landed = Asset(
        name="billflow_landed_manifests",
        uri=LANDED_MANIFESTS_URI,
        group="billflow",
        watchers=[AssetWatcher(name="billflow_manifest_events", trigger=trigger)],
    )
    return AssetOrTimeSchedule(timetable=daily, assets=landed)
