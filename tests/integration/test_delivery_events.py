"""A landed manifest starts the daily load: S3 object-created events on an SQS queue (moto's, on 127.0.0.1)
become events of the asset the daily load is scheduled on, through an AssetWatcher with the Amazon
provider's SQS trigger (billflow.orchestration.assets)."""

from __future__ import annotations

import asyncio
import json

import pytest

from billflow.orchestration.assets import LANDED_MANIFESTS_URI, daily_load_schedule
from tests.conftest import ROOT
from tests.integration.test_s3_landing import (  # noqa: F401 - the moto server and aws_default on it
    LANDING,
    MANIFEST_KEY,
    moto_client,
    moto_endpoint,
    s3,
)

QUEUE = "billflow-cur-deliveries"


def s3_event(key: str) -> str:
    """The body S3 sends a queue for an object-created event (one record)."""
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": LANDING}, "object": {"key": key, "size": 1024}},
    }
    return json.dumps({"Records": [record]})


@pytest.fixture
def queue(s3, moto_endpoint, monkeypatch):  # noqa: F811
    sqs = moto_client("sqs", moto_endpoint)
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    monkeypatch.setenv("BILLFLOW_DELIVERY_QUEUE_URL", url)
    return sqs, url


def watcher_trigger(schedule):
    """The asset a schedule waits on and the trigger of its one watcher."""
    asset = schedule.asset_condition
    (watcher,) = asset.watchers
    return asset, watcher.trigger


async def first_event(trigger, seconds: float = 30):
    events = trigger.run()
    try:
        return await asyncio.wait_for(events.__anext__(), seconds)
    finally:
        await events.aclose()


def test_manifest_events_on_the_queue_become_one_event_of_the_landed_manifests_asset(queue):
    sqs, url = queue
    # the same manifest twice (S3 may deliver an event more than once) and a later one first
    later = MANIFEST_KEY.replace("20260901-20261001", "20261001-20261101")
    for key in (later, MANIFEST_KEY, MANIFEST_KEY):
        sqs.send_message(QueueUrl=url, MessageBody=s3_event(key))

    asset, trigger = watcher_trigger(daily_load_schedule())
    event = asyncio.run(first_event(trigger))

    assert asset.uri == LANDED_MANIFESTS_URI
    keys = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in event.payload["message_batch"]]
    assert sorted(keys) == sorted([later, MANIFEST_KEY, MANIFEST_KEY])  # one event for the whole batch
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"  # taken off the queue on reception


def test_the_daily_load_runs_on_the_manifest_asset_only_when_a_queue_is_set(queue, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    _, url = queue
    with_queue = DagBag(dag_folder=str(ROOT / "dags" / "cur_daily_load.py")).dags["cur_daily_load"]
    monkeypatch.delenv("BILLFLOW_DELIVERY_QUEUE_URL")
    without = DagBag(dag_folder=str(ROOT / "dags" / "cur_daily_load.py")).dags["cur_daily_load"]

    asset, trigger = watcher_trigger(with_queue.timetable)
    assert (asset.uri, trigger.sqs_queue, trigger.aws_conn_id) == (LANDED_MANIFESTS_URI, url, "aws_default")
    # and every day at 00:00 UTC, as without a queue
    daily = with_queue.timetable.timetable
    assert (daily.expression, str(daily.timezone)) == (without.timetable.expression, str(without.timetable.timezone))
    assert (without.timetable.expression, str(without.timetable.timezone)) == ("0 0 * * *", "UTC")


def test_a_queue_url_that_is_not_one_is_refused(monkeypatch):
    monkeypatch.setenv("BILLFLOW_DELIVERY_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/1/q; rm -rf /")
    with pytest.raises(ValueError, match="is not an SQS queue URL"):
        daily_load_schedule()


class _TaskInstance:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


class _DagRun:
    def __init__(self, run_type: str):
        self.run_type = run_type


@pytest.mark.parametrize(("run_type", "waits"), [("asset_triggered", False), ("scheduled", True), ("manual", True)])
def test_a_run_a_manifest_event_started_ends_at_once_when_nothing_is_new(run_type, waits, tmp_path, monkeypatch):
    """A duplicate or late event finds its delivery loaded: the sensor skips instead of poking for hours."""
    from airflow.sdk.exceptions import AirflowSkipException

    from billflow.orchestration import tasks

    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path))  # an empty landing zone: nothing to load
    for name in ("LANDING_URI", "STAGED_URI", "WAREHOUSE_PATH", "SERVING_PATH", "SERVING_CONN_ID"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    (tmp_path / "landing").mkdir()
    context = {"params": {"wait_for_deliveries": True}, "ti": _TaskInstance(), "dag_run": _DagRun(run_type)}
    monkeypatch.setattr(tasks, "get_current_context", lambda: context)

    if waits:
        poked = tasks.sense_new_deliveries.function()
        assert (poked.is_done, poked.xcom_value) == (False, [])
    else:
        with pytest.raises(AirflowSkipException, match="nothing to load"):
            tasks.sense_new_deliveries.function()
