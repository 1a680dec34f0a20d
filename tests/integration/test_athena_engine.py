"""The Athena adapter (billflow.engines.athena_engine) stages a delivery on S3 through the Amazon provider's
Glue and Athena hooks against a moto server started here: the same version as the DuckDB adapter stages
from the same files, to the cent. moto runs no SQL: tools/billflow_dev/aws/athena_double.py runs each statement moto
accepts (a test double, and it says what it cannot show)."""

from __future__ import annotations

import re
from decimal import Decimal

import boto3
import pytest
import sqlglot

from billflow.engines.athena_engine import AthenaEngine, hive_type
from billflow.engines.duckdb_engine import DuckDBEngine
from billflow.formats.discovery import discover_deliveries
from billflow.staging.stage import (
    StagingError,
    read_candidate,
    read_candidate_tags,
    read_raw_checks,
    stage_delivery,
)
from billflow.storage.base import open_store
from billflow_dev.aws.athena_double import AthenaOnMoto
from tests.conftest import ROOT
from tests.iam import ACCOUNT, denied, load_policy, recorded_calls
from tests.integration.test_s3_landing import (  # noqa: F401 - the moto server and its buckets
    DATA_KEY,
    LANDING,
    REGION,
    STAGED,
    land_legacy_delivery,
    moto_endpoint,
    s3,
)
from tests.rawcur import EXPECTED_TOTALS, raw_table
from tests.reliability.conftest import RULES
from tests.unit.test_staging import totals_by_type

DATABASE, RESULTS = "billflow_raw", "billflow-athena-results"
TAG_KEYS = ("team",)


@pytest.fixture
def athena(s3, moto_endpoint, monkeypatch):  # noqa: F811 - the fixture imported above
    """moto's Glue database and results bucket, and the double that runs what moto's Athena accepts."""
    s3.create_bucket(Bucket=RESULTS, CreateBucketConfiguration={"LocationConstraint": REGION})
    credentials = {"aws_access_key_id": "billflow-test-key", "aws_secret_access_key": "billflow-test-secret"}
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name=REGION, **credentials)
    glue.create_database(DatabaseInput={"Name": DATABASE})
    double = AthenaOnMoto(moto_endpoint, REGION)
    double.install(monkeypatch)
    return double, glue


def athena_engine() -> AthenaEngine:
    return AthenaEngine(
        aws_conn_id="aws_default",
        database=DATABASE,
        workgroup="primary",
        output_uri=f"s3://{RESULTS}/queries/",
        poll_seconds=0.05,
    )


def sorted_rows(table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda row: repr(tuple(row.items())))


def test_a_delivery_staged_through_athena_equals_the_duckdb_adapters_version(s3, athena):  # noqa: F811
    double, glue = athena
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    landing, staged = open_store(f"s3://{LANDING}"), open_store(f"s3://{STAGED}")
    [delivery] = discover_deliveries(landing).deliveries

    by_athena = stage_delivery(delivery, landing, staged, athena_engine(), tag_keys=TAG_KEYS)
    by_duckdb = stage_delivery(delivery, landing, staged, DuckDBEngine(threads=1), tag_keys=TAG_KEYS)

    assert (by_athena.raw_rows, by_athena.staged_rows, by_athena.tag_rows) == (12, 11, 11)
    athena_rows, athena_totals = read_candidate(staged, by_athena.version)
    duckdb_rows, duckdb_totals = read_candidate(staged, by_duckdb.version)
    assert totals_by_type(athena_rows, "line_item_count") == EXPECTED_TOTALS
    assert [(f.name, f.type) for f in athena_rows.schema] == [(f.name, f.type) for f in duckdb_rows.schema]
    assert sorted_rows(athena_rows) == sorted_rows(duckdb_rows)
    assert sorted_rows(athena_totals) == sorted_rows(duckdb_totals)
    assert sorted_rows(read_candidate_tags(staged, by_athena.version)) == sorted_rows(
        read_candidate_tags(staged, by_duckdb.version)
    )
    assert read_raw_checks(staged, by_athena.version) == read_raw_checks(staged, by_duckdb.version)

    # the statements Athena received: valid Trino, over one Glue table at the delivery's folder
    assert double.statements and all(
        sqlglot.parse_one(sql, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
        for sql in double.statements
        if not sql.lower().startswith("unload")
    )
    assert sum(sql.lower().startswith("unload") for sql in double.statements) == 2  # cost and cost by tag
    [table] = glue.get_tables(DatabaseName=DATABASE)["TableList"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{LANDING}/{DATA_KEY.rsplit('/', 1)[0]}/"
    columns = {column["Name"]: column["Type"] for column in table["StorageDescriptor"]["Columns"]}
    assert columns["line_item_unblended_cost"] == "double"
    assert columns["line_item_usage_start_date"] == "timestamp"
    # no UNLOAD scratch folder is left beside the version
    assert [key for key in staged.list_keys() if "/unload-" in key] == []


def test_legacy_and_cur2_deliveries_stage_through_athena_as_through_duckdb(s3, athena, tmp_path):  # noqa: F811
    """Both payers' final September (tests/reliability/deliveries.py): a legacy report and a CUR 2.0 export,
    whose tags are a map column, each staged by both adapters from the same S3 files."""
    from tests.reliability.deliveries import land_both

    land_both(tmp_path)
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            s3.put_object(Bucket=LANDING, Key=path.relative_to(tmp_path).as_posix(), Body=path.read_bytes())
    landing, staged = open_store(f"s3://{LANDING}"), open_store(f"s3://{STAGED}")
    deliveries = discover_deliveries(landing).deliveries
    assert sorted(d.source_format for d in deliveries) == ["cur2", "legacy"]

    for delivery in deliveries:
        by_athena = stage_delivery(delivery, landing, staged, athena_engine(), tag_keys=TAG_KEYS)
        by_duckdb = stage_delivery(delivery, landing, staged, DuckDBEngine(threads=1), tag_keys=TAG_KEYS)

        assert (by_athena.raw_rows, by_athena.staged_rows) == (by_duckdb.raw_rows, by_duckdb.staged_rows)
        assert by_athena.tag_rows == by_duckdb.tag_rows > 0
        for read in (lambda v: read_candidate(staged, v)[0], lambda v: read_candidate(staged, v)[1]):
            assert sorted_rows(read(by_athena.version)) == sorted_rows(read(by_duckdb.version)), delivery.source_format
        assert sorted_rows(read_candidate_tags(staged, by_athena.version)) == sorted_rows(
            read_candidate_tags(staged, by_duckdb.version)
        )
        assert read_raw_checks(staged, by_athena.version) == read_raw_checks(staged, by_duckdb.version)
    assert by_athena.raw_rows == 12


def test_a_failed_athena_query_fails_the_staging_naming_the_delivery_and_the_query(s3, athena):  # noqa: F811
    double, _ = athena
    double.failing = lambda sql: sql.lower().startswith("unload")
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    landing, staged = open_store(f"s3://{LANDING}"), open_store(f"s3://{STAGED}")
    [delivery] = discover_deliveries(landing).deliveries

    with pytest.raises(StagingError) as failed:
        stage_delivery(delivery, landing, staged, athena_engine(), tag_keys=TAG_KEYS)

    message = str(failed.value)
    assert message.startswith(f"cannot stage payer {delivery.payer_account_id}, period 2026-09, manifest ")
    assert re.search(r"AthenaQueryFailed: Athena query [0-9a-f-]{36} ended FAILED: no reason given$", message)
    assert staged.list_keys() == []  # the half-written version is deleted


def test_the_glue_table_of_a_delivery_is_created_once(s3, athena):  # noqa: F811
    _, glue = athena
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))
    landing = open_store(f"s3://{LANDING}")
    [delivery] = discover_deliveries(landing).deliveries
    files = list(delivery.data_uris)

    first, again = athena_engine(), athena_engine()
    assert first._table(files) == again._table(files)  # a second engine (another task) finds the same table
    assert len(glue.get_tables(DatabaseName=DATABASE)["TableList"]) == 1


def test_parquet_types_become_glue_types():
    import pyarrow as pa

    assert hive_type(pa.decimal128(38, 10)) == "decimal(38,10)"
    assert hive_type(pa.map_(pa.string(), pa.string())) == "map<string,string>"
    assert hive_type(pa.timestamp("ms")) == "timestamp"
    assert hive_type(pa.struct([("a", pa.int64()), ("b", pa.string())])) == "struct<a:bigint,b:string>"
    with pytest.raises(ValueError, match="no Glue type"):
        hive_type(pa.duration("s"))


def test_a_daily_dag_run_on_the_athena_engine_loads_the_delivery_from_s3_within_the_worker_iam_policy(
    s3,  # noqa: F811
    athena,
    moto_endpoint,  # noqa: F811
    tmp_path_factory,
    monkeypatch,
    airflow_db,
):
    """The DAG's own tasks (dag.test) with the landing zone and the staged area on moto's S3 and staging on
    Athena: the mapped stage and gate tasks of the payer's partition run the adapter's provider calls, and
    the invoice figures reach serving. Every AWS call of the run is one that docs/aws/iam/billflow-worker.json
    allows, filled in with this run's buckets, prefixes, database and workgroup (tests/iam.py)."""
    import duckdb

    from billflow.rules import project_with_rules
    from tests.conftest import reused_home
    from tests.runs import load, loaded

    double, _ = athena
    home = reused_home(tmp_path_factory)
    monkeypatch.setenv("BILLFLOW_HOME", str(home))
    for name in ("WAREHOUSE_PATH", "SERVING_PATH", "SERVING_CONN_ID", "REPORT_NAMES"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    monkeypatch.setenv("BILLFLOW_DBT_PROJECT_DIR", str(project_with_rules(RULES, home / "dbt_project")))
    settings = {
        "LANDING_URI": f"s3://{LANDING}",
        "STAGED_URI": f"s3://{STAGED}",
        "QUERY_ENGINE": "athena",
        "ATHENA_DATABASE": DATABASE,
        "ATHENA_OUTPUT_URI": f"s3://{RESULTS}/queries/",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"BILLFLOW_{name}", value)
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))

    with recorded_calls(skip_files=("tools/billflow_dev/aws/athena_double.py",)) as calls:
        report = load()

    assert loaded(report) == ["111111111111 2026-09 assembly-1"]
    assert report.states()["stage_partition.stage[111111111111 2026-09]"] == "success"
    assert report.states()["stage_partition.gate[111111111111 2026-09]"] == "success"
    assert sum(sql.lower().startswith("unload") for sql in double.statements) == 2
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        # tests/rawcur.py's twelve lines: 119.33 unblended, by hand
        assert con.execute("select sum(unblended_cost), sum(line_item_count) from billing.daily_costs").fetchall() == [
            (Decimal("119.3300000000"), 12)
        ]
    # a delivery's Glue table, its queries in the workgroup, reading the landing zone, writing the version
    assert {(call.service, call.operation) for call in calls} == {
        ("athena", "GetQueryExecution"),
        ("athena", "GetQueryResults"),
        ("athena", "StartQueryExecution"),
        ("glue", "CreateTable"),
        ("s3", "GetObject"),
        ("s3", "ListObjectsV2"),
        ("s3", "PutObject"),
    }
    policy = load_policy(
        ROOT / "docs" / "aws" / "iam" / "billflow-worker.json",
        LandingBucket=LANDING,
        LandingPrefix="",
        StagedBucket=STAGED,
        StagedPrefix="",
        AthenaResultsBucket=RESULTS,
        AthenaResultsPrefix="queries/",
        Region=REGION,
        Account=ACCOUNT,
        GlueDatabase=DATABASE,
        SpectrumGlueDatabase="billflow_staged",
        AthenaWorkgroup="primary",
        DeliveryQueueArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:billflow-deliveries",
    )
    assert denied(policy, calls, REGION, "primary") == []
