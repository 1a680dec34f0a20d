"""The staged versions as Redshift Spectrum sees them: partitions of Glue tables over the staged bucket.

A Redshift warehouse reads the staged Parquet through an external schema (`BILLFLOW_SPECTRUM_SCHEMA`) that
maps a Glue database (`BILLFLOW_SPECTRUM_GLUE_DATABASE`). billflow keeps that catalog current: one Glue
table per staged table (cur_daily, cur_daily_tags) with the staged columns, partitioned by
`PARTITION_KEYS`, and one partition per staged version, registered before the warehouse build that needs
it (the `register_staged_partitions` task). Registering changes nothing that is live: the warehouse copies
the versions of its release, by name, into its candidate schemas (billflow.warehouse.redshift), so a
partition nobody released is never read by a live table or view.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from billflow.config import Settings
from billflow.staging.columns import STAGED_SCHEMA, STAGED_TAG_SCHEMA
from billflow.staging.versions import COST_TABLE, TAG_TABLE, VERSIONS_ROOT, VersionRef
from billflow.storage.base import ObjectStore

log = logging.getLogger(__name__)

# the partition columns of the Glue tables: a staged version's payer, period (YYYY-MM) and version id
PARTITION_KEYS = ("staged_payer", "staged_period", "staged_version")
STAGED_TABLES: dict[str, pa.Schema] = {COST_TABLE: STAGED_SCHEMA, TAG_TABLE: STAGED_TAG_SCHEMA}
# batch_create_partition takes at most 100 partitions a call
_PARTITIONS_PER_CALL = 100
_PARTITIONS_DELETED_PER_CALL = 25
_PARQUET_FORMAT = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


class SpectrumError(RuntimeError):
    """The staged versions cannot be registered in the Glue Data Catalog."""


def partition_values(version: VersionRef) -> list[str]:
    return [version.payer_account_id, version.period_label, version.version_id]


def glue_columns(schema: pa.Schema) -> list[dict[str, str]]:
    from billflow.engines.athena_engine import hive_type

    return [{"Name": field.name, "Type": hive_type(field.type)} for field in schema]


def table_input(store: ObjectStore, table: str, schema: pa.Schema) -> dict[str, Any]:
    """The Glue table of one staged table: its columns, the partition keys, Parquet under the versions root."""
    return {
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in PARTITION_KEYS],
        "StorageDescriptor": {
            "Columns": glue_columns(schema),
            "Location": store.uri(VERSIONS_ROOT) + "/",
            **_PARQUET_FORMAT,
        },
    }


def partition_input(store: ObjectStore, table: str, schema: pa.Schema, version: VersionRef) -> dict[str, Any]:
    """One staged version of one table: the folder of its Parquet file."""
    return {
        "Values": partition_values(version),
        "StorageDescriptor": {
            "Columns": glue_columns(schema),
            "Location": store.uri(f"{version.prefix}/{table}") + "/",
            **_PARQUET_FORMAT,
        },
    }


def register_staged_versions(settings: Settings, store: ObjectStore, versions: Iterable[VersionRef]) -> list[str]:
    """Create the Glue tables when missing (or bring their columns up to date) and register each version as
    a partition of both; idempotent. Returns the labels of the versions registered now."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    if not store.root_uri.startswith("s3://"):
        raise SpectrumError(
            f"Spectrum reads S3: the staged area {store.root_uri} is not an s3:// location (BILLFLOW_STAGED_URI)"
        )
    chosen = sorted(set(versions))
    client = GlueCatalogHook(aws_conn_id=settings.aws_conn_id).get_conn()
    database = settings.spectrum_glue_database
    new: set[VersionRef] = set()
    for table, schema in STAGED_TABLES.items():
        _ensure_table(client, database, table_input(store, table, schema))
        inputs = [partition_input(store, table, schema, version) for version in chosen]
        created = _create_partitions(client, database, table, inputs)
        new |= {v for v in chosen if tuple(partition_values(v)) in created}
    labels = [version.label for version in sorted(new)]
    log.info(
        "Glue %s: %d staged versions registered now (%s), %d already there",
        database,
        len(labels),
        ", ".join(labels) or "none",
        len(chosen) - len(labels),
    )
    return labels


def _ensure_table(client: Any, database: str, wanted: dict[str, Any]) -> None:
    name = wanted["Name"]
    try:
        client.create_table(DatabaseName=database, TableInput=wanted)
        log.info("created Glue table %s.%s over %s", database, name, wanted["StorageDescriptor"]["Location"])
        return
    except client.exceptions.AlreadyExistsException:
        pass
    found = client.get_table(DatabaseName=database, Name=name)["Table"]
    same = (
        found.get("PartitionKeys") == wanted["PartitionKeys"]
        and found["StorageDescriptor"].get("Columns") == wanted["StorageDescriptor"]["Columns"]
        and found["StorageDescriptor"].get("Location") == wanted["StorageDescriptor"]["Location"]
    )
    if not same:  # the staged schema changed since the table was made (a billflow upgrade)
        client.update_table(DatabaseName=database, TableInput=wanted)
        log.warning("updated Glue table %s.%s to the staged columns of this billflow", database, name)


def _create_partitions(client: Any, database: str, table: str, inputs: Sequence[dict[str, Any]]) -> set[tuple]:
    """Create the partitions; returns the values of those created now (an existing one is not an error)."""
    created: set[tuple] = set()
    for start in range(0, len(inputs), _PARTITIONS_PER_CALL):
        batch = inputs[start : start + _PARTITIONS_PER_CALL]
        response = client.batch_create_partition(DatabaseName=database, TableName=table, PartitionInputList=batch)
        existing, failed = set(), []
        for error in response.get("Errors", []):
            values = tuple(error.get("PartitionValues", []))
            if error.get("ErrorDetail", {}).get("ErrorCode") == "AlreadyExistsException":
                existing.add(values)
            else:
                failed.append(f"{'/'.join(values)}: {error.get('ErrorDetail', {}).get('ErrorMessage', error)}")
        if failed:
            raise SpectrumError(f"Glue refused partitions of {database}.{table}: {'; '.join(failed)}")
        created |= {tuple(item["Values"]) for item in batch} - existing
    return created


def deregister_staged_versions(settings: Settings, versions: Iterable[VersionRef]) -> None:
    """Remove the partitions of deleted staged versions (a failed run's, or replaced beyond the retention):
    Spectrum would otherwise list folders that no longer exist. A partition or table already gone is fine."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    chosen = sorted(set(versions))
    if not chosen:
        return
    client = GlueCatalogHook(aws_conn_id=settings.aws_conn_id).get_conn()
    database = settings.spectrum_glue_database
    for table in STAGED_TABLES:
        for start in range(0, len(chosen), _PARTITIONS_DELETED_PER_CALL):
            batch = [{"Values": partition_values(v)} for v in chosen[start : start + _PARTITIONS_DELETED_PER_CALL]]
            try:
                response = client.batch_delete_partition(
                    DatabaseName=database, TableName=table, PartitionsToDelete=batch
                )
            except client.exceptions.EntityNotFoundException:
                break  # no such table: nothing was ever registered
            failed = [
                f"{'/'.join(error.get('PartitionValues', []))}: {error.get('ErrorDetail', {}).get('ErrorMessage')}"
                for error in response.get("Errors", [])
                if error.get("ErrorDetail", {}).get("ErrorCode") != "EntityNotFoundException"
            ]
            if failed:
                raise SpectrumError(f"Glue kept partitions of {database}.{table}: {'; '.join(failed)}")
    log.info("Glue %s: removed the partitions of %s", database, ", ".join(v.label for v in chosen))


def external_schema_sql(settings: Settings) -> str:
    """The statement that maps the Glue database into Redshift as the external schema (Spectrum)."""
    if not settings.spectrum_iam_role:
        raise SpectrumError(
            f"the external schema {settings.spectrum_schema} does not exist in the warehouse and "
            "BILLFLOW_SPECTRUM_IAM_ROLE (the role Redshift reads the Glue catalog and the staged bucket with) "
            "is not set: set it, or create the schema: create external schema "
            f"{settings.spectrum_schema} from data catalog database '{settings.spectrum_glue_database}' "
            "iam_role '<role arn>'"
        )
    return (
        f"create external schema if not exists {settings.spectrum_schema} "
        f"from data catalog database '{settings.spectrum_glue_database}' iam_role '{settings.spectrum_iam_role}'"
    )
