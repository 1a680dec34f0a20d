"""The landing zone and the staged area on S3 (MinIO in compose, S3 on AWS), against a moto S3 server
started here: S3Store through the Airflow connection aws_default, DuckDB reading and writing s3://
through the s3fs file system duckdb_engine.py registers, and a legacy CUR delivery from discovery to
a promoted staged partition.
"""

from __future__ import annotations

import io
import json
import logging
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.engines.query import RAW_DELIVERY, RAW_FILE_COLUMN
from billflow.formats.discovery import Rejection, Waiting, discover_deliveries
from billflow.formats.identifiers import IdentifierError
from billflow.quality.gate import enforce_gate
from billflow.staging.stage import (
    local_version_files,
    read_candidate,
    read_raw_checks,
    read_raw_totals,
    stage_delivery,
)
from billflow.storage import s3 as s3_module
from billflow.storage.base import open_store
from billflow.storage.local import LocalStore
from billflow.storage.s3 import S3Store
from tests.integration.conftest import free_port
from tests.rawcur import EXPECTED_TOTALS, PAYER, raw_table
from tests.unit.test_staging import totals_by_type

LANDING, STAGED = "billflow-landing", "billflow-staged"
REGION = "eu-west-1"
REPORT = "billflow-cur"
DATA_KEY = f"{PAYER}/{REPORT}/{REPORT}/year=2026/month=9/{REPORT}-00001.snappy.parquet"
MANIFEST_KEY = f"{PAYER}/{REPORT}/20260901-20261001/{REPORT}-Manifest.json"


@pytest.fixture(scope="module")
def moto_endpoint():
    request_log = logging.getLogger("werkzeug")  # one line per S3 request otherwise
    level = request_log.level
    request_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        request_log.setLevel(level)


def moto_client(service: str, endpoint: str):
    """A boto3 client of the moto server, with the credentials of the tests' aws_default connection."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="billflow-test-key",
        aws_secret_access_key="billflow-test-secret",
    )


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    """An empty moto S3 with the two billflow buckets; aws_default points at it (credentials in the connection)."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "billflow-test-key",
                "password": "billflow-test-secret",
                "extra": {"endpoint_url": moto_endpoint, "region_name": REGION},
            }
        ),
    )
    client = moto_client("s3", moto_endpoint)
    for bucket in (LANDING, STAGED):
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def land_legacy_delivery(client, assembly_id: str, table: pa.Table) -> None:
    """A legacy CUR delivery as AWS writes it: the data file, then the manifest at the canonical path."""
    client.put_object(Bucket=LANDING, Key=DATA_KEY, Body=parquet_bytes(table))
    manifest = {
        "assemblyId": assembly_id,
        "account": PAYER,
        "reportName": REPORT,
        "bucket": LANDING,
        "billingPeriod": {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"},
        "reportKeys": [DATA_KEY],
        "columns": [{"category": name.split("_")[0], "name": name} for name in table.column_names],
    }
    client.put_object(Bucket=LANDING, Key=MANIFEST_KEY, Body=json.dumps(manifest).encode())


def staged_version(engine: DuckDBEngine, staged: S3Store, version) -> pa.Table:
    """A staged version, read back by DuckDB from s3:// as the candidate warehouse loads it."""
    return engine.query(f"select * exclude ({RAW_FILE_COLUMN}) from {RAW_DELIVERY}", [staged.uri(version.cost_key)])


def version_keys(version) -> list[str]:
    return sorted([version.cost_key, version.tags_key, version.raw_totals_key, version.raw_checks_key])


def test_a_legacy_delivery_on_s3_is_discovered_and_staged_into_a_version(s3):
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    landing = open_store(f"s3://{LANDING}")
    staged = open_store(f"s3://{STAGED}")
    assert isinstance(landing, S3Store) and isinstance(staged, S3Store)

    found = discover_deliveries(landing)

    assert (found.waiting, found.rejected) == ([], [])
    [delivery] = found.deliveries
    assert (delivery.payer_account_id, delivery.billing_period, delivery.manifest_id, delivery.source_format) == (
        PAYER,
        date(2026, 9, 1),
        "assembly-1",
        "legacy",
    )
    assert delivery.data_uris == (f"s3://{LANDING}/{DATA_KEY}",)

    engine = DuckDBEngine(threads=1)
    result = stage_delivery(delivery, landing, staged, engine, tag_keys=("team",))

    assert (result.raw_rows, result.staged_rows, result.tag_rows) == (12, 11, 11)
    version = result.version
    assert version.prefix == f"versions/payer={PAYER}/period=2026-09/{version.version_id}"
    assert version.version_id.endswith("Z-assembly-1")
    assert staged.list_keys() == version_keys(version)
    candidate, raw_totals = read_candidate(staged, version)
    assert totals_by_type(candidate, "line_item_count") == EXPECTED_TOTALS
    assert totals_by_type(raw_totals, "raw_row_count") == EXPECTED_TOTALS
    assert str(candidate.schema.field("amortized_cost").type) == "decimal128(38, 10)"
    read_back = staged_version(engine, staged, version)
    assert totals_by_type(read_back, "line_item_count") == EXPECTED_TOTALS
    assert set(read_back.column("manifest_id").to_pylist()) == {"assembly-1"}
    assert landing.list_keys() == sorted([DATA_KEY, MANIFEST_KEY])  # the landing zone is only read
    engine.close()


def test_a_version_staged_on_s3_is_gated_from_scratch_copies_of_its_files(s3, tmp_path):
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    landing, staged = open_store(f"s3://{LANDING}"), open_store(f"s3://{STAGED}")
    [delivery] = discover_deliveries(landing).deliveries
    engine = DuckDBEngine(threads=1)
    version = stage_delivery(delivery, landing, staged, engine, tag_keys=("team",)).version
    engine.close()

    with local_version_files(staged, version) as (staged_file, tags_file):
        assert not staged_file.startswith("s3://") and not tags_file.startswith("s3://")
        result = enforce_gate(
            staged_file,
            read_raw_totals(staged, version),
            raw_checks=read_raw_checks(staged, version),
            payer_account_id=PAYER,
            billing_period=date(2026, 9, 1),
            tag_costs=tags_file,
            tag_keys=("team",),
            results_dir=tmp_path / "gx",
        )
        scratch = {staged_file, tags_file}

    assert result.passed and result.staged_rows == 11
    assert [suite.name for suite in result.suites] == ["staged_cur_daily", "staged_reconciliation"]
    assert not any(Path(path).exists() for path in scratch)  # the copies are gone
    assert staged.list_keys() == version_keys(version)  # the version itself is only read


def test_a_redelivery_that_overwrites_the_data_file_is_staged_from_the_new_bytes(s3):
    """AWS rewrites a legacy report's data files under the same keys: the second staging (a new engine in the
    same process, as dag.test and a reused worker run it) must read the new bytes, not a cached listing."""
    landing, staged = S3Store(f"s3://{LANDING}"), S3Store(f"s3://{STAGED}")
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    [first] = discover_deliveries(landing).deliveries
    engine = DuckDBEngine(threads=1)
    first_version = stage_delivery(first, landing, staged, engine).version
    engine.close()

    restated = raw_table("legacy")
    restated = restated.filter(pa.compute.not_equal(restated["line_item_line_item_type"], "Credit"))
    land_legacy_delivery(s3, "assembly-2", restated)
    [second] = discover_deliveries(landing).deliveries
    engine = DuckDBEngine(threads=1)
    result = stage_delivery(second, landing, staged, engine)

    assert second.manifest_id == "assembly-2"
    assert (result.raw_rows, result.staged_rows) == (11, 10)
    assert staged.list_keys() == sorted(version_keys(first_version) + version_keys(result.version))
    read_back = staged_version(engine, staged, result.version)
    assert set(read_back.column("manifest_id").to_pylist()) == {"assembly-2"}
    assert totals_by_type(read_back, "line_item_count") == {k: v for k, v in EXPECTED_TOTALS.items() if k != "Credit"}
    engine.close()


def test_a_staged_root_with_a_prefix_keeps_its_keys_relative(s3):
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    landing, staged = S3Store(f"s3://{LANDING}"), S3Store(f"s3://{STAGED}/billflow/staged/")
    [delivery] = discover_deliveries(landing).deliveries
    engine = DuckDBEngine(threads=1)

    version = stage_delivery(delivery, landing, staged, engine).version

    assert staged.list_keys() == version_keys(version)
    listed = s3.list_objects_v2(Bucket=STAGED)["Contents"]
    assert [obj["Key"] for obj in listed] == [f"billflow/staged/{key}" for key in version_keys(version)]
    assert totals_by_type(staged_version(engine, staged, version), "line_item_count") == EXPECTED_TOTALS
    engine.close()


# --- the object-store port: S3Store behaves as LocalStore does ---------------------------------------


@pytest.fixture(params=["s3", "local"])
def store(request, tmp_path):
    """A store rooted below the bucket root (s3://billflow-staged/root), or the LocalStore equivalent."""
    if request.param == "local":
        return LocalStore(tmp_path / "root")
    request.getfixturevalue("s3")
    return S3Store(f"s3://{STAGED}/root")


def fill(store, keys):
    for key in keys:
        store.write_bytes(key, key.encode())


def test_written_objects_are_listed_read_and_exist(store):
    fill(store, ["b/2.parquet", "a/1.json", "a/sub/3.txt"])

    assert store.list_keys() == ["a/1.json", "a/sub/3.txt", "b/2.parquet"]
    assert store.list_keys("a") == ["a/1.json", "a/sub/3.txt"]
    assert store.list_keys("a/") == ["a/1.json", "a/sub/3.txt"]
    assert store.list_keys("a/1.json") == ["a/1.json"]
    assert store.list_keys("nothing") == []
    assert store.read_bytes("a/sub/3.txt") == b"a/sub/3.txt"
    assert store.exists("a/1.json")
    assert not store.exists("a/1.js")
    assert not store.exists("c/1.json")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("c/1.json")


def test_overwriting_an_object_replaces_its_bytes(store):
    store.write_bytes("k/v", b"one")
    store.write_bytes("k/v", b"two")

    assert store.read_bytes("k/v") == b"two"
    assert store.list_keys() == ["k/v"]


def test_a_prefix_is_a_folder_not_the_start_of_a_name(store):
    fill(store, ["_candidates/p-m-1/data/part-0.parquet", "_candidates/p-m-10/data/part-0.parquet"])

    assert store.list_keys("_candidates/p-m-1") == ["_candidates/p-m-1/data/part-0.parquet"]
    store.delete_prefix("_candidates/p-m-1")

    assert store.list_keys() == ["_candidates/p-m-10/data/part-0.parquet"]


def test_delete_prefix_drops_the_folder_and_keeps_the_rest(store):
    fill(store, ["x/1", "x/y/2", "z/3"])

    store.delete_prefix("x")
    store.delete_prefix("missing")

    assert store.list_keys() == ["z/3"]


def test_s3_store_keys_and_uris(s3):
    store = S3Store(f"s3://{LANDING}/cur/")
    fill(store, ["111111111111/r/m.json"])

    assert store.root_uri == f"s3://{LANDING}/cur"
    assert store.uri("111111111111/r/m.json") == f"s3://{LANDING}/cur/111111111111/r/m.json"
    assert S3Store(f"s3://{LANDING}").list_keys() == ["cur/111111111111/r/m.json"]


def test_deletes_go_in_batches_of_what_one_request_takes(s3, monkeypatch):
    monkeypatch.setattr(s3_module, "_DELETE_BATCH", 3)  # 1000 on S3; 3 keeps the test quick
    store = S3Store(f"s3://{STAGED}")
    fill(store, ["keep/me", *(f"many/{i:02d}" for i in range(10))])
    sent = []
    store.client.meta.events.register(
        "provide-client-params.s3.DeleteObjects", lambda params, **_: sent.append(len(params["Delete"]["Objects"]))
    )

    store.delete_prefix("many")

    assert sent == [3, 3, 3, 1]
    assert store.list_keys() == ["keep/me"]


def test_a_delete_that_s3_refuses_raises():
    class RefusingClient:
        def get_paginator(self, _name):
            return self

        def paginate(self, **_):
            return [{"Contents": [{"Key": "x/1"}, {"Key": "x/2"}]}]

        def delete_objects(self, **_):
            return {"Errors": [{"Key": "x/2", "Code": "AccessDenied", "Message": "Access Denied"}]}

    with pytest.raises(OSError, match=r"could not delete 1 objects .* x/2: AccessDenied"):
        S3Store("s3://bucket", client=RefusingClient()).delete_prefix("x")


# --- both adapters refuse keys that could leave their folder, in every method ------------------------

BAD_STORE_KEYS = [
    ("/abs/key", "it is absolute (starts with '/')"),
    ("..", "it has a '..' segment"),
    ("live/../cand", "it has a '..' segment"),
    ("../outside", "it has a '..' segment"),
    ("./live", "it has a '.' segment"),
    ("live//p=1", "it has an empty segment ('//' or a trailing '/')"),
    ("live\\p=1", "it has a backslash"),
    ("live/p=1\x00", "it has a control character"),
]
KEY_METHODS = {
    "read_bytes": lambda store, key: store.read_bytes(key),
    "write_bytes": lambda store, key: store.write_bytes(key, b"x"),
    "exists": lambda store, key: store.exists(key),
    "uri": lambda store, key: store.uri(key),
}
PREFIX_METHODS = {
    "list_keys": lambda store, prefix: store.list_keys(prefix),
    "list_objects": lambda store, prefix: store.list_objects(prefix),
    "delete_prefix": lambda store, prefix: store.delete_prefix(prefix),
}
STORED = ["cand/data/part-0.parquet", "live/p=1/part-0.parquet"]


@pytest.mark.parametrize(("key", "problem"), BAD_STORE_KEYS)
def test_every_store_method_refuses_a_key_that_could_leave_its_folder_and_changes_nothing(store, key, problem):
    fill(store, STORED)
    refusals = {}
    for name, call in (KEY_METHODS | PREFIX_METHODS).items():
        with pytest.raises(IdentifierError) as caught:
            call(store, key)
        refusals[name] = str(caught.value)

    assert refusals == {name: f"object key {key!r} is not a valid object key: {problem}" for name in KEY_METHODS} | {
        name: f"prefix {key!r} is not a valid folder: {problem}" for name in PREFIX_METHODS
    }
    assert store.list_keys() == STORED
    assert [store.read_bytes(k) for k in STORED] == [k.encode() for k in STORED]


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("", "prefix '' names the whole store: give a folder"),
        ("/", "prefix '/' names the whole store: give a folder"),
        ("//", "prefix '//' is not a valid folder: it is absolute (starts with '/')"),
    ],
)
def test_delete_prefix_refuses_to_empty_the_whole_store(store, prefix, message):
    fill(store, STORED)

    with pytest.raises(IdentifierError) as caught:
        store.delete_prefix(prefix)

    assert str(caught.value) == message
    assert store.list_keys() == STORED


def test_list_objects_gives_each_objects_key_size_and_utc_modification_time(store):
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    store.write_bytes("a/1.json", b"12345")
    store.write_bytes("b/2.parquet", b"")
    after = datetime.now(UTC) + timedelta(seconds=1)

    infos = store.list_objects()

    assert [(info.key, info.size) for info in infos] == [("a/1.json", 5), ("b/2.parquet", 0)]
    assert [info.last_modified.utcoffset() for info in infos] == [timedelta(0), timedelta(0)]
    assert all(before <= info.last_modified <= after for info in infos)
    assert [info.key for info in store.list_objects("a/")] == ["a/1.json"]


def test_s3_store_refuses_a_root_with_a_bad_bucket_or_prefix():
    with pytest.raises(IdentifierError) as bad_bucket:
        S3Store("s3://Billflow_Landing/cur")
    with pytest.raises(IdentifierError) as bad_prefix:
        S3Store(f"s3://{LANDING}/cur/../other")

    assert str(bad_bucket.value) == (
        "bucket of the store root 'Billflow_Landing' is not a valid S3 bucket name: it must be 3 to 63 lowercase "
        "letters, digits, '.' or '-', starting and ending with a letter or digit"
    )
    assert (
        str(bad_prefix.value) == "prefix of the store root 'cur/../other' is not a valid folder: it has a '..' segment"
    )


# --- discovery on S3: one listing, modification times, rejections with their reason ----------------------


def put_legacy_manifest(client, body_overrides=None, key: str = MANIFEST_KEY) -> None:
    manifest = {
        "assemblyId": "assembly-1",
        "account": PAYER,
        "reportName": REPORT,
        "bucket": LANDING,
        "billingPeriod": {"start": "20260901T000000.000Z", "end": "20261001T000000.000Z"},
        "reportKeys": [DATA_KEY],
    } | (body_overrides or {})
    client.put_object(Bucket=LANDING, Key=key, Body=json.dumps(manifest).encode())


def test_a_manifest_whose_data_file_is_missing_waits_with_its_s3_modification_time(s3):
    put_legacy_manifest(s3)
    landing = S3Store(f"s3://{LANDING}")
    requests = []
    landing.client.meta.events.register("before-call.s3", lambda model, **_: requests.append(model.name))

    found = discover_deliveries(landing)

    modified = s3.head_object(Bucket=LANDING, Key=MANIFEST_KEY)["LastModified"]
    assert (found.deliveries, found.rejected) == ([], [])
    assert found.waiting == [
        Waiting(MANIFEST_KEY, (DATA_KEY,), 1, modified.astimezone(UTC), PAYER, date(2026, 9, 1), "assembly-1")
    ]
    assert found.waiting[0].manifest_modified_at.tzinfo is UTC
    assert requests == ["ListObjectsV2", "GetObject"]  # one listing, no request per data file


def test_a_replicated_manifest_naming_the_payers_bucket_loads_its_files_from_the_landing_bucket(s3):
    """A partner's bucket that the payers' buckets replicate into: the manifest names the bucket AWS wrote to,
    the files are found beside the manifest in the landing bucket."""
    put_legacy_manifest(s3, {"bucket": "payer-cur-bucket"})
    s3.put_object(Bucket=LANDING, Key=DATA_KEY, Body=b"PAR1")

    found = discover_deliveries(S3Store(f"s3://{LANDING}"))

    assert (found.rejected, found.waiting) == ([], [])
    (delivery,) = found.deliveries
    assert delivery.data_uris == (f"s3://payer-cur-bucket/{DATA_KEY}",)  # as the manifest says
    assert delivery.data_keys == (DATA_KEY,)


def test_a_delivery_replicated_under_another_prefix_is_read_beside_its_manifest(s3):
    """The landing zone holds the payer's report under a prefix of the partner's choosing: the files the
    manifest names under the payer's own prefix are read from the same folders under the landing prefix."""
    landing = "partner/payers"
    put_legacy_manifest(s3, {"bucket": "payer-cur-bucket"}, key=f"{landing}/{MANIFEST_KEY}")
    s3.put_object(Bucket=LANDING, Key=f"{landing}/{DATA_KEY}", Body=b"PAR1")

    found = discover_deliveries(S3Store(f"s3://{LANDING}"))

    assert (found.rejected, found.waiting) == ([], [])
    (delivery,) = found.deliveries
    assert delivery.data_keys == (f"{landing}/{DATA_KEY}",)


def test_an_s3_manifest_key_with_an_empty_segment_is_rejected_unread_and_the_good_delivery_loads(s3):
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    bad_key = f"x//{REPORT}/20260901-20261001/{REPORT}-Manifest.json"  # S3 keeps '//'; a file system would not
    s3.put_object(Bucket=LANDING, Key=bad_key, Body=b"{}")
    landing = S3Store(f"s3://{LANDING}")
    requests = []
    landing.client.meta.events.register("before-call.s3", lambda model, **_: requests.append(model.name))

    found = discover_deliveries(landing)

    assert [d.manifest_key for d in found.deliveries] == [MANIFEST_KEY]
    assert found.rejected == [
        Rejection(
            bad_key,
            f"{bad_key}: manifest key {bad_key!r} is not a valid object key: it has an empty segment "
            "('//' or a trailing '/')",
        )
    ]
    assert requests == ["ListObjectsV2", "GetObject"]  # the good manifest only
