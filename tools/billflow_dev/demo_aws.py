"""`python -m billflow_dev demo-aws` (make demo-aws): the demo on billflow's AWS adapters, with no account.

The landing zone and the staged area are buckets of a moto server started here; staging runs on the
Athena adapter (moto's Athena and Glue, with billflow_dev.aws.athena_double running the SQL moto does not);
the warehouse is built on Redshift's adapter (dbt-redshift through billflow_dev.aws.redshift_proxy) in a
PostgreSQL cluster started here from the machine's binaries, its staged versions registered in moto's Glue
and read through billflow_dev.aws.spectrum_double; serving is the Aurora PostgreSQL profile on the same
cluster. The DAGs are the product's (dag.test in this process): the daily load, then the monthly close,
then `billflow invoices` prints what `make demo` prints for the same deliveries.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

REGION = "eu-west-1"
LANDING, STAGED, RESULTS = "billflow-demo-landing", "billflow-demo-staged", "billflow-demo-athena-results"
RAW_DATABASE, STAGED_DATABASE, SPECTRUM_SCHEMA = "billflow_raw", "billflow_staged", "spectrum"
CREDENTIALS = {"aws_access_key_id": "billflow-demo-key", "aws_secret_access_key": "billflow-demo-secret"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo-aws", help="the demo on the AWS adapters (moto, PostgreSQL), no account")
    parser.add_argument("--landing", type=Path, required=True, help="a folder of CUR deliveries to upload and load")
    parser.add_argument("--by-rule", metavar="YYYY-MM", help="also split this billing period's invoices by rule")
    parser.add_argument("--as-of", type=date.fromisoformat, help="the close's day (default: today)")
    parser.add_argument("--report", type=Path, help="also write the printed invoices into this file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from billflow.cli import invoices
    from billflow.orchestration.runner import run_daily_load, run_monthly_close

    if not args.landing.is_dir():
        print(f"no CUR deliveries at {args.landing}")
        return 1
    home = Path(os.environ.get("BILLFLOW_HOME", Path.home() / ".billflow")) / "demo-aws"
    with aws_on_this_machine(home, args.landing):
        run_daily_load(force_reload=True)
        run_monthly_close(as_of=args.as_of)
        printed = io.StringIO()
        with redirect_stdout(printed):
            code = invoices.run(
                argparse.Namespace(by_rule=invoices.billing_month(args.by_rule) if args.by_rule else None)
            )
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(printed.getvalue())
    print(printed.getvalue(), end="")
    return code


@contextmanager
def aws_on_this_machine(home: Path, landing: Path) -> Iterator[None]:
    """moto (S3, Glue, Athena and its SQL double), PostgreSQL for Redshift and Aurora, and the environment
    that points billflow's settings and dbt's aws profile at them; everything stops on exit."""
    from moto.server import ThreadedMotoServer

    from billflow_dev.aws.postgres import free_port, postgres_cluster

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from billflow.orchestration.steps import environment_set

    with ExitStack() as stack:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        server.start()
        stack.callback(server.stop)
        endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        # a folder of its own under the system's temporary folder: as root, the cluster's owner (postgres) must
        # be able to reach it, which it cannot under a private home
        cluster = stack.enter_context(postgres_cluster(Path(tempfile.mkdtemp(prefix="billflow-demo-aws-pg-"))))
        stack.enter_context(environment_set(**_aws_connection(endpoint)))
        _create_aws_resources(endpoint, landing)
        stack.enter_context(_doubles(endpoint, cluster))
        shim = _redshift_shim(cluster)
        stack.callback(shim.close)
        stack.enter_context(environment_set(**_settings(home, cluster, shim)))
        yield


def _aws_connection(endpoint: str) -> dict[str, str]:
    connection = {
        "conn_type": "aws",
        "login": CREDENTIALS["aws_access_key_id"],
        "password": CREDENTIALS["aws_secret_access_key"],
        "extra": {"endpoint_url": endpoint, "region_name": REGION},
    }
    return {"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection), "AWS_DEFAULT_REGION": REGION}


def _client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def _create_aws_resources(endpoint: str, landing: Path) -> None:
    """The three buckets, the two Glue databases, and the deliveries uploaded as AWS writes them."""
    import urllib.request

    # moto keeps its accounts' state per process, not per server: start from an empty one
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    s3, glue = _client("s3", endpoint), _client("glue", endpoint)
    for bucket in (LANDING, STAGED, RESULTS):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for database in (RAW_DATABASE, STAGED_DATABASE):
        glue.create_database(DatabaseInput={"Name": database})
    files = sorted(path for path in landing.rglob("*") if path.is_file())
    # data files first, manifests last: a manifest names files that are already there
    for path in sorted(files, key=lambda p: p.name.endswith("Manifest.json")):
        s3.upload_file(str(path), LANDING, path.relative_to(landing).as_posix())
    print(f"uploaded {len(files)} files of {landing} to s3://{LANDING} (moto on {endpoint})")


@contextmanager
def _doubles(endpoint: str, cluster: Any) -> Iterator[None]:
    from billflow_dev.aws.athena_double import AthenaOnMoto
    from billflow_dev.aws.spectrum_double import SpectrumOnPostgres

    warehouse = _create_database(cluster, "redshift")
    with _Patches() as patches:
        AthenaOnMoto(endpoint, REGION).install(patches)
        spectrum = SpectrumOnPostgres(
            lambda: _connect(cluster, warehouse), _client("s3", endpoint), SPECTRUM_SCHEMA, STAGED_DATABASE
        )
        spectrum.create_external_schema()
        spectrum.install(patches)
        yield


class _Patches(ExitStack):
    """monkeypatch.setattr's shape, undone on exit (the doubles install themselves through it)."""

    def setattr(self, target: Any, name: str, value: Any) -> None:
        self.enter_context(mock.patch.object(target, name, value))


def _connect(cluster: Any, database: str) -> Any:
    import psycopg2

    return psycopg2.connect(host=cluster.host, port=cluster.port, user=cluster.user, dbname=database)


def _create_database(cluster: Any, name: str) -> str:
    from billflow_dev.aws.redshift_proxy import REDSHIFT_CATALOG_SQL

    admin = _connect(cluster, "postgres")
    try:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"select 1 from pg_database where datname = '{name}'")
            if not cursor.fetchall():
                cursor.execute(f"create database {name}")
    finally:
        admin.close()
    if name == "redshift":
        connection = _connect(cluster, name)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(REDSHIFT_CATALOG_SQL)
        finally:
            connection.close()
    return name


def _redshift_shim(cluster: Any) -> Any:
    from billflow_dev.aws.redshift_proxy import RedshiftProtocolShim

    return RedshiftProtocolShim(cluster.host, cluster.port)


def _settings(home: Path, cluster: Any, shim: Any) -> dict[str, str]:
    return {
        "BILLFLOW_HOME": str(home),
        "BILLFLOW_LANDING_URI": f"s3://{LANDING}",
        "BILLFLOW_STAGED_URI": f"s3://{STAGED}",
        "BILLFLOW_QUERY_ENGINE": "athena",
        "BILLFLOW_ATHENA_DATABASE": RAW_DATABASE,
        "BILLFLOW_ATHENA_OUTPUT_URI": f"s3://{RESULTS}/queries/",
        "BILLFLOW_SPECTRUM_GLUE_DATABASE": STAGED_DATABASE,
        "BILLFLOW_SPECTRUM_SCHEMA": SPECTRUM_SCHEMA,
        "BILLFLOW_EXPORT_URI": str(home / "exports"),
        **warehouse_and_serving_settings(cluster, shim, "redshift", _create_database(cluster, "aurora")),
    }


def warehouse_and_serving_settings(cluster: Any, shim: Any, warehouse_db: str, serving_db: str) -> dict[str, str]:
    """A Redshift warehouse and an Aurora PostgreSQL serving database, both databases of one PostgreSQL
    cluster (`cluster`: host, port, user): billflow's connections to them, and dbt's aws profile, whose
    warehouse target goes through the Redshift protocol shim. The demo and the tests use the same."""
    from billflow.config import DBT_PROJECT_DIR

    def postgres_connection(database: str) -> str:
        fields = {"host": cluster.host, "port": cluster.port, "login": cluster.user, "schema": database}
        return json.dumps({"conn_type": "postgres", **fields})

    return {
        "BILLFLOW_DBT_PROFILES_DIR": str(DBT_PROJECT_DIR / "profiles" / "aws"),
        "BILLFLOW_WAREHOUSE_CONN_ID": "billflow_warehouse",
        "BILLFLOW_SERVING_CONN_ID": "billflow_serving",
        "AIRFLOW_CONN_BILLFLOW_WAREHOUSE": postgres_connection(warehouse_db),
        "AIRFLOW_CONN_BILLFLOW_SERVING": postgres_connection(serving_db),
        "BILLFLOW_REDSHIFT_HOST": shim.host,
        "BILLFLOW_REDSHIFT_PORT": str(shim.port),
        "BILLFLOW_REDSHIFT_USER": cluster.user,
        "BILLFLOW_REDSHIFT_PASSWORD": "unused-with-trust-auth",
        "BILLFLOW_REDSHIFT_DBNAME": warehouse_db,
        "BILLFLOW_REDSHIFT_SSLMODE": "disable",
        "BILLFLOW_PG_HOST": cluster.host,
        "BILLFLOW_PG_PORT": str(cluster.port),
        "BILLFLOW_PG_USER": cluster.user,
        "BILLFLOW_PG_PASSWORD": "unused-with-trust-auth",
        "BILLFLOW_PG_DBNAME": serving_db,
        "BILLFLOW_PG_SSLMODE": "disable",
    }
