"""A TEST DOUBLE of Redshift Spectrum, not Spectrum: PostgreSQL tables standing in for the external tables
that a Redshift external schema maps from the Glue Data Catalog.

No Redshift runs on this machine, and PostgreSQL cannot read Parquet on S3. billflow registers each staged
version as a partition of its Glue tables (billflow.warehouse.spectrum), which a moto server keeps. When
moto accepts partitions (batch_create_partition), the double appends the Parquet files under each new
partition's location, read from moto's S3, to the PostgreSQL table `<schema>.<table>`, with the partition
columns. The warehouse's own statements then read those tables as they would read the external ones
(billflow.warehouse.redshift). The double also lists the schema in `pg_catalog.svv_external_schemas`, the
Redshift view billflow consults before creating the external schema.

What it can show: the pipeline registers each version it builds from, with the location of its files, and
the warehouse copies exactly the versions of its release. What it cannot: Redshift's own reading of Glue
and S3 (types, IAM, the external schema statement itself, which sqlglot parses in tests/unit).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from billflow.engines.postgres_database import PostgresDatabase

EXTERNAL_SCHEMAS_SQL = """
set allow_system_table_mods = on;
create or replace view pg_catalog.svv_external_schemas as
select cast({schema!r} as name) as schemaname, cast({database!r} as varchar) as databasename;
reset allow_system_table_mods;
"""
_LOADING_SCHEMA = "spectrum_double_load"


class SpectrumOnPostgres:
    def __init__(self, connect: Callable[[], Any], s3_client: Any, schema: str, glue_database: str) -> None:
        self.connect = connect
        self.s3 = s3_client
        self.schema = schema
        self.glue_database = glue_database
        self.loaded: list[tuple[str, tuple[str, ...]]] = []  # (table, partition values) in load order
        self.dropped: list[tuple[str, tuple[str, ...]]] = []

    def create_external_schema(self) -> None:
        connection = self.connect()
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(EXTERNAL_SCHEMAS_SQL.format(schema=self.schema, database=self.glue_database))
                cursor.execute(f"create schema if not exists {self.schema}")
        finally:
            connection.close()

    def install(self, monkeypatch: Any) -> None:
        from moto.glue.models import GlueBackend

        create = GlueBackend.batch_create_partition
        double = self

        def batch_create_partition(backend: Any, database_name: str, table_name: str, partition_input: list) -> list:
            errors = create(backend, database_name, table_name, partition_input)
            refused = {tuple(error["PartitionValues"]) for error in errors}
            if database_name == double.glue_database:
                for partition in partition_input:
                    if tuple(partition["Values"]) not in refused:
                        double.load_partition(table_name, partition, backend.get_table(database_name, table_name))
            return errors

        delete = GlueBackend.batch_delete_partition

        def batch_delete_partition(backend: Any, database_name: str, table_name: str, parts: list) -> list:
            errors = delete(backend, database_name, table_name, parts)
            kept = {tuple(error["PartitionValues"]) for error in errors}
            if database_name == double.glue_database:
                for part in parts:
                    if tuple(part["Values"]) not in kept:
                        double.drop_partition(table_name, part["Values"], backend.get_table(database_name, table_name))
            return errors

        monkeypatch.setattr(GlueBackend, "batch_create_partition", batch_create_partition)
        monkeypatch.setattr(GlueBackend, "batch_delete_partition", batch_delete_partition)

    def drop_partition(self, table: str, values: list[str], glue_table: Any) -> None:
        keys = [key["Name"] for key in glue_table.as_dict()["PartitionKeys"]]
        database = PostgresDatabase(self.connect(), name="spectrum-double")
        try:
            condition = " and ".join(f"{key} = ?" for key in keys)
            database.execute(f"delete from {self.schema}.{table} where {condition}", tuple(values))
        finally:
            database.close()
        self.dropped.append((table, tuple(values)))

    def load_partition(self, table: str, partition: dict[str, Any], glue_table: Any) -> None:
        keys = [key["Name"] for key in glue_table.as_dict()["PartitionKeys"]]
        rows = self._files_under(partition["StorageDescriptor"]["Location"])
        for key, value in zip(keys, partition["Values"], strict=True):
            rows = rows.append_column(key, pa.array([value] * rows.num_rows, type=pa.string()))
        database = PostgresDatabase(self.connect(), name="spectrum-double")
        try:
            database.replace_tables(_LOADING_SCHEMA, {table: rows})
            with database.transaction():
                exists = database.fetch_all(
                    "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
                    (self.schema, table),
                )
                if not exists:
                    database.execute(
                        f"create table {self.schema}.{table} as select * from {_LOADING_SCHEMA}.{table} where false"
                    )
                database.execute(f"insert into {self.schema}.{table} select * from {_LOADING_SCHEMA}.{table}")
        finally:
            database.close()
        self.loaded.append((table, tuple(partition["Values"])))

    def _files_under(self, location: str) -> pa.Table:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        tables = [
            pq.read_table(io.BytesIO(self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()))
            for item in listed
            if item["Key"].endswith(".parquet")
        ]
        if not tables:
            raise AssertionError(f"no Parquet file under the partition location {location}")
        return pa.concat_tables(tables)
