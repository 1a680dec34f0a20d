"""Parquet files in a local folder or on S3, read by pyarrow (not by a query engine): footers, and the s3fs
file system with an Airflow AWS connection's credentials and endpoint."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from billflow.engines.query import ParquetFooter


def read_footer(uri: str, s3: Any = None) -> ParquetFooter:
    """Row count and columns of one Parquet file from its footer (on S3: ranged reads of the footer only);
    raises when the file is not readable Parquet."""
    if uri.startswith("s3://"):
        with s3.open(uri, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
    else:
        metadata = pq.ParquetFile(uri).metadata
    schema = metadata.schema.to_arrow_schema()
    return ParquetFooter(uri, metadata.num_rows, tuple(schema.names), schema)


def s3_filesystem(aws_conn_id: str) -> Any:
    """An s3fs file system with the credentials and endpoint of an Airflow AWS connection."""
    import s3fs
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    credentials = hook.get_credentials()
    endpoint = hook.conn_config.endpoint_url
    return s3fs.S3FileSystem(
        key=credentials.access_key,
        secret=credentials.secret_key,
        token=credentials.token,
        client_kwargs={"endpoint_url": endpoint} if endpoint else {},
    )
