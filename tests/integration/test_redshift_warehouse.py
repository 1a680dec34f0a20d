"""The AWS deployment's warehouse path, run by the daily load DAG (dag.test): the landing zone and the staged
area on a moto S3, the staged versions registered as partitions of Glue tables (moto's Glue), the warehouse
built by the dbt-redshift adapter in candidate schemas and released by renaming them, serving on PostgreSQL
(the Aurora PostgreSQL profile).

PostgreSQL stands in for Redshift (billflow_dev.aws.redshift_proxy lets the Redshift driver talk to it)
and for Spectrum (billflow_dev.aws.spectrum_double, a test double, fills PostgreSQL tables from the
partitions moto's Glue accepts)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from billflow.config import load_settings
from billflow.engines.postgres_database import PostgresDatabase
from billflow.rules import project_with_rules
from billflow.staging.columns import STAGED_TAG_SCHEMA
from billflow.staging.versions import COST_TABLE, TAG_TABLE, VersionRef
from billflow.warehouse.build import (
    complete_warehouse_release,
    discard_warehouse_build,
    live_warehouse_versions,
    prepare_warehouse_build,
    release_warehouse,
)
from billflow.warehouse.redshift import (
    CANDIDATE_SUFFIX,
    WAREHOUSE_SCHEMAS,
    RedshiftWarehouseError,
    prepare_sql,
    release_sql,
)
from billflow.warehouse.spectrum import PARTITION_KEYS, SpectrumError, external_schema_sql, partition_values
from billflow_dev.aws.redshift_proxy import REDSHIFT_CATALOG_SQL, RedshiftProtocolShim
from billflow_dev.aws.spectrum_double import SpectrumOnPostgres
from billflow_dev.demo_aws import warehouse_and_serving_settings
from tests.conftest import ROOT, reused_home
from tests.iam import ACCOUNT, denied, load_policy, recorded_calls
from tests.integration.test_s3_landing import (  # noqa: F401 - the moto server and its buckets
    LANDING,
    REGION,
    STAGED,
    land_legacy_delivery,
    moto_endpoint,
    s3,
)
from tests.rawcur import raw_table
from tests.reliability.conftest import RULES
from tests.reliability.deliveries import scaled
from tests.reliability.test_release_checks import add_warehouse_test
from tests.runs import DagRunFailed, load, loaded
from tests.unit.test_warehouse_build import SEPT, staged_rows

GLUE_DATABASE, SPECTRUM_SCHEMA = "billflow_staged", "spectrum"
PAYER = "111111111111"


class AwsDeployment:
    def __init__(self, postgres_server, warehouse_db: str, serving_db: str, spectrum: SpectrumOnPostgres) -> None:
        self.server = postgres_server
        self.warehouse_db = warehouse_db
        self.serving_db = serving_db
        self.spectrum = spectrum

    def warehouse(self, sql: str) -> list[tuple]:
        return self._rows(self.warehouse_db, sql)

    def serving(self, sql: str) -> list[tuple]:
        return self._rows(self.serving_db, sql)

    def _rows(self, database: str, sql: str) -> list[tuple]:
        connection = self.server.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()

    def schemas(self) -> list[str]:
        rows = self.warehouse(
            "select nspname from pg_namespace where nspname not like 'pg\\_%' "
            "and nspname not in ('information_schema', 'public') order by 1"
        )
        return [name for (name,) in rows]


def _postgres_connection(server, database: str) -> str:
    return json.dumps(
        {"conn_type": "postgres", "host": server.host, "port": server.port, "login": server.user, "schema": database}
    )


@pytest.fixture
def aws(s3, moto_endpoint, postgres_server, tmp_path_factory, monkeypatch, airflow_db):  # noqa: F811
    home = reused_home(tmp_path_factory)
    warehouse_db, serving_db = postgres_server.create_database("redshift"), postgres_server.create_database("aurora")
    connection = postgres_server.connect(warehouse_db)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(REDSHIFT_CATALOG_SQL)
    finally:
        connection.close()
    credentials = {"aws_access_key_id": "billflow-test-key", "aws_secret_access_key": "billflow-test-secret"}
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name=REGION, **credentials)
    glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
    spectrum = SpectrumOnPostgres(lambda: postgres_server.connect(warehouse_db), s3, SPECTRUM_SCHEMA, GLUE_DATABASE)
    spectrum.create_external_schema()
    spectrum.install(monkeypatch)
    shim = RedshiftProtocolShim(postgres_server.host, postgres_server.port)
    for name in ("WAREHOUSE_PATH", "SERVING_PATH", "REPORT_NAMES", "QUERY_ENGINE", "SPECTRUM_IAM_ROLE"):
        monkeypatch.delenv(f"BILLFLOW_{name}", raising=False)
    settings = {
        "BILLFLOW_HOME": str(home),
        "BILLFLOW_DBT_PROJECT_DIR": str(project_with_rules(RULES, home / "dbt_project")),
        "BILLFLOW_LANDING_URI": f"s3://{LANDING}",
        "BILLFLOW_STAGED_URI": f"s3://{STAGED}/billflow",
        "BILLFLOW_SPECTRUM_GLUE_DATABASE": GLUE_DATABASE,
        "BILLFLOW_SPECTRUM_SCHEMA": SPECTRUM_SCHEMA,
        # Redshift through the protocol shim, Aurora PostgreSQL: the databases above, dbt's profiles/aws
        **warehouse_and_serving_settings(postgres_server, shim, warehouse_db, serving_db),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    try:
        yield AwsDeployment(postgres_server, warehouse_db, serving_db, spectrum)
    finally:
        shim.close()


def test_daily_loads_on_redshift_register_each_version_in_glue_and_release_only_the_checked_candidate(
    aws: AwsDeployment,
    s3,  # noqa: F811 - the fixture imported above
):
    land_legacy_delivery(s3, "assembly-1", raw_table("legacy"))

    with recorded_calls(skip_files=("tools/billflow_dev/aws/spectrum_double.py",)) as calls:
        first = load()

    assert loaded(first) == [f"{PAYER} 2026-09 assembly-1"]
    [version] = [c["version_id"] for c in first.returns["plan_release"]["candidates"]]
    assert first.returns["register_staged_partitions"] == [f"{PAYER} 2026-09 {version}"]
    # the Glue tables got the version as a partition over its files
    assert aws.spectrum.loaded == [(table, (PAYER, "2026-09", version)) for table in (COST_TABLE, TAG_TABLE)]
    # tests/rawcur.py's twelve lines: 119.33 unblended, by hand; live schemas only, no candidate left
    assert aws.warehouse("select sum(unblended_cost), sum(line_item_count) from marts.daily_costs") == [
        (Decimal("119.3300000000"), 12)
    ]
    assert aws.serving("select sum(unblended_cost), sum(line_item_count) from billing.daily_costs") == [
        (Decimal("119.3300000000"), 12)
    ]
    assert aws.schemas() == sorted([*WAREHOUSE_SCHEMAS, SPECTRUM_SCHEMA, "spectrum_double_load"])
    # the FOCUS export reads the live Redshift mart: BilledCost is the unblended cost
    [exported] = first.returns["export_focus"]
    focus = pq.read_table(exported)
    assert exported.endswith("billing_period=2026-09/focus-2026-09.parquet")
    assert (sum(focus.column("BilledCost").to_pylist()), set(focus.column("BillingAccountId").to_pylist())) == (
        Decimal("119.3300000000"),
        {PAYER},
    )
    assert aws.warehouse("select build_id from billflow_meta.build") == [(first.returns["plan_release"]["release_id"],)]
    # the worker's AWS calls: reading the landing zone, writing the version, the staged Glue tables
    assert {(call.service, call.operation) for call in calls} == {
        ("glue", "BatchCreatePartition"),
        ("glue", "CreateTable"),
        ("s3", "GetObject"),
        ("s3", "ListObjectsV2"),
        ("s3", "PutObject"),
    }
    assert denied(worker_policy(), calls, REGION, "primary") == []

    # a re-delivery that fails a warehouse test: registered in Glue, yet nothing of it goes live
    add_warehouse_test(Path(load_settings().dbt_project_dir), "assert_no_poisoned_delivery", POISON_TEST)
    land_legacy_delivery(s3, "poisoned-2", scaled(raw_table("legacy"), "2"))
    with (
        pytest.raises(DagRunFailed) as failed,
        recorded_calls(skip_files=("tools/billflow_dev/aws/spectrum_double.py",)) as later,
    ):
        load()
    assert "assert_no_poisoned_delivery" in failed.value.outcome.errors["dbt_build_warehouse"]
    assert [values[2].endswith("-poisoned-2") for _, values in aws.spectrum.loaded] == [False, False, True, True]
    assert aws.warehouse("select sum(unblended_cost), count(distinct manifest_id) from staged.cur_daily") == [
        (Decimal("119.3300000000"), 1)
    ]
    assert aws.warehouse("select sum(unblended_cost) from marts.daily_costs") == [(Decimal("119.3300000000"),)]

    # the next good re-delivery replaces the month. The failed run's version is deleted and its partitions
    # go with it; the replaced version stays (retained for audit) but only the released one is read
    land_legacy_delivery(s3, "good-3", scaled(raw_table("legacy"), "3"))
    with recorded_calls(skip_files=("tools/billflow_dev/aws/spectrum_double.py",)) as last:
        third = load()

    assert loaded(third) == [f"{PAYER} 2026-09 good-3"]
    assert [(table, values[2].split("-", 1)[1]) for table, values in aws.spectrum.dropped] == [
        (COST_TABLE, "poisoned-2"),
        (TAG_TABLE, "poisoned-2"),
    ]
    assert aws.warehouse("select distinct staged_version from spectrum.cur_daily order by 1") == [
        (version,),
        (third.returns["plan_release"]["candidates"][0]["version_id"],),
    ]
    assert aws.warehouse("select sum(unblended_cost), min(manifest_id) from staged.cur_daily") == [
        (Decimal("357.9900000000"), "good-3")
    ]
    assert aws.serving("select sum(unblended_cost) from billing.daily_costs") == [(Decimal("357.9900000000"),)]
    assert not [name for name in aws.schemas() if name.endswith(("__candidate", "__replaced"))]
    # the later runs also read the Glue tables, delete the failed version's files and partitions
    assert {("glue", "GetTable"), ("glue", "BatchDeletePartition"), ("s3", "DeleteObjects")} <= {
        (call.service, call.operation) for call in [*later, *last]
    }
    assert denied(worker_policy(), [*later, *last], REGION, "primary") == []


def worker_policy() -> dict:
    """docs/aws/iam/billflow-worker.json filled in with this deployment's names (tests/iam.py)."""
    return load_policy(
        ROOT / "docs" / "aws" / "iam" / "billflow-worker.json",
        LandingBucket=LANDING,
        LandingPrefix="",
        StagedBucket=STAGED,
        StagedPrefix="billflow/",
        AthenaResultsBucket="unused-athena-results",
        AthenaResultsPrefix="",
        Region=REGION,
        Account=ACCOUNT,
        GlueDatabase="unused_raw",
        SpectrumGlueDatabase=GLUE_DATABASE,
        AthenaWorkgroup="primary",
        DeliveryQueueArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:billflow-deliveries",
    )


POISON_TEST = """{{ config(tags=["warehouse"]) }}
select manifest_id, count(*) as staged_rows
from {{ ref('stg_cur__daily_costs') }}
where manifest_id = 'poisoned-2'
group by manifest_id
"""


def test_the_warehouse_statements_on_redshift_parse_as_redshift_sql(monkeypatch):
    monkeypatch.setenv("BILLFLOW_SPECTRUM_IAM_ROLE", "arn:aws:iam::123456789012:role/billflow-spectrum")
    settings = load_settings()
    version = VersionRef(PAYER, date(2026, 9, 1), "20261001T060000000000Z-assembly-1")
    statements = [external_schema_sql(settings), *prepare_sql(settings, [version]), *release_sql(WAREHOUSE_SCHEMAS)]
    for statement in statements:
        sqlglot.parse_one(statement, read="redshift", error_level=ErrorLevel.RAISE)
    assert statements[0] == (
        "create external schema if not exists spectrum from data catalog database 'billflow_staged' "
        "iam_role 'arn:aws:iam::123456789012:role/billflow-spectrum'"
    )
    assert "select billing_period" in statements[9] and statements[9].endswith(
        "from spectrum.cur_daily where (staged_payer = '111111111111' and staged_period = '2026-09' "
        "and staged_version = '20261001T060000000000Z-assembly-1')"
    )


# ---------------------------------------------------------------- the release steps, one at a time


def _spectrum_rows(version: VersionRef, costs: list[str]) -> pa.Table:
    rows = staged_rows(version.payer_account_id, version.manifest_id, costs)
    for key, value in zip(PARTITION_KEYS, partition_values(version), strict=True):
        rows = rows.append_column(key, pa.array([value] * rows.num_rows, type=pa.string()))
    return rows


def _as_if_dbt_built(database: PostgresDatabase) -> None:
    """What the dbt build adds to a candidate: its schemas, with one table standing for its models."""
    for schema in ("reference", "staging", "intermediate", "marts"):
        database.execute(f"create schema {schema}{CANDIDATE_SUFFIX}")
    database.execute(
        f"create table marts{CANDIDATE_SUFFIX}.daily_costs as "
        f"select billing_period, unblended_cost from staged{CANDIDATE_SUFFIX}.cur_daily"
    )


def test_a_redshift_release_interrupted_after_its_commit_is_completed_and_a_failed_candidate_is_dropped(
    postgres_server, monkeypatch
):
    database_name = postgres_server.create_database("redshift")
    monkeypatch.setenv("BILLFLOW_WAREHOUSE_CONN_ID", "billflow_warehouse")
    monkeypatch.setenv("AIRFLOW_CONN_BILLFLOW_WAREHOUSE", _postgres_connection(postgres_server, database_name))
    monkeypatch.delenv("BILLFLOW_SPECTRUM_IAM_ROLE", raising=False)
    settings = load_settings()
    SpectrumOnPostgres(
        lambda: postgres_server.connect(database_name), None, "spectrum", "billflow_staged"
    ).create_external_schema()
    first = VersionRef(PAYER, SEPT, "20261001T060000000000Z-assembly-1")
    second = VersionRef(PAYER, SEPT, "20261002T060000000000Z-assembly-2")
    database = PostgresDatabase(postgres_server.connect(database_name))
    database.replace_tables(
        "spectrum",
        {
            COST_TABLE: pa.concat_tables([_spectrum_rows(first, ["1.50", "2.25"]), _spectrum_rows(second, ["10.00"])]),
            TAG_TABLE: pa.table(
                {
                    **{f.name: pa.array([], f.type) for f in STAGED_TAG_SCHEMA},
                    **{k: pa.array([], pa.string()) for k in PARTITION_KEYS},
                }
            ),
        },
    )
    live = "select sum(unblended_cost) from marts.daily_costs"

    assert prepare_warehouse_build(settings, None, [first], "r1").cost_rows == 2
    _as_if_dbt_built(database)
    release_warehouse(settings, "r1")
    assert database.fetch_all(live) == [(Decimal("3.7500000000"),)]

    # r2 committed its serving release, then the process died before the warehouse renames
    prepare_warehouse_build(settings, None, [second], "r2")
    _as_if_dbt_built(database)
    with pytest.raises(RedshiftWarehouseError, match="hold build 'r2', not 'r3'"):
        release_warehouse(settings, "r3")
    assert database.fetch_all(live) == [(Decimal("3.7500000000"),)]
    assert complete_warehouse_release(settings, "r2") == "completed"
    assert database.fetch_all(live) == [(Decimal("10.0000000000"),)]
    assert live_warehouse_versions(settings) == [(PAYER, "2026-09", second.version_id)]
    assert complete_warehouse_release(settings, "r2") == "current"

    # a run that failed after preparing r3: the next start drops its candidate, never the live schemas
    prepare_warehouse_build(settings, None, [first], "r3")
    assert discard_warehouse_build(settings, keep_build_id="r2") is True
    assert not database.fetch_all("select nspname from pg_namespace where nspname like '%\\_\\_candidate'")
    assert database.fetch_all(live) == [(Decimal("10.0000000000"),)]
    database.close()


def test_without_its_external_schema_or_a_role_to_create_it_the_load_says_what_to_run(monkeypatch):
    monkeypatch.delenv("BILLFLOW_SPECTRUM_IAM_ROLE", raising=False)

    with pytest.raises(SpectrumError) as refused:
        external_schema_sql(load_settings())

    assert str(refused.value) == (
        "the external schema spectrum does not exist in the warehouse and BILLFLOW_SPECTRUM_IAM_ROLE (the role "
        "Redshift reads the Glue catalog and the staged bucket with) is not set: set it, or create the schema: "
        "create external schema spectrum from data catalog database 'billflow_staged' iam_role '<role arn>'"
    )
