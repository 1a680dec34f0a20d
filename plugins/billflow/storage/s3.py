"""S3 adapter of the object-store port, credentials from an Airflow connection (aws_default by default)."""

from __future__ import annotations

from typing import Any

from billflow.storage.base import split_s3_uri


def s3_client(aws_conn_id: str) -> Any:
    """A boto3 S3 client built from the Airflow connection (endpoint_url in its extra for MinIO/moto)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id).get_conn()


class S3Store:
    def __init__(self, root_uri: str, aws_conn_id: str = "aws_default", client: Any = None) -> None:
        self.bucket, prefix = split_s3_uri(root_uri.rstrip("/"))
        self.prefix = f"{prefix}/" if prefix else ""
        self.root_uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.aws_conn_id = aws_conn_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.aws_conn_id)
        return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}{key.lstrip('/')}"

    def _iter_objects(self, prefix: str):
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix)):
            yield from page.get("Contents", [])

    def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(obj["Key"][len(self.prefix) :] for obj in self._iter_objects(prefix))

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data)

    def exists(self, key: str) -> bool:
        response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._full(key), MaxKeys=1)
        return any(obj["Key"] == self._full(key) for obj in response.get("Contents", []))

    def delete_prefix(self, prefix: str) -> None:
        keys = [{"Key": obj["Key"]} for obj in self._iter_objects(prefix)]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[start : start + 1000]})

    def replace_prefix(self, source_prefix: str, target_prefix: str) -> None:
        # S3 has no rename: copy the new objects over, then drop what the new set does not have.
        source_keys = self.list_keys(source_prefix)
        new_keys = set()
        for key in source_keys:
            target_key = target_prefix.rstrip("/") + "/" + key[len(source_prefix.rstrip("/")) + 1 :]
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self._full(target_key),
                CopySource={"Bucket": self.bucket, "Key": self._full(key)},
            )
            new_keys.add(target_key)
        stale = [k for k in self.list_keys(target_prefix) if k not in new_keys]
        for start in range(0, len(stale), 1000):
            batch = [{"Key": self._full(k)} for k in stale[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
        self.delete_prefix(source_prefix)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def key_from_uri(self, uri: str) -> str:
        if not uri.startswith("s3://"):
            return uri.lstrip("/")
        bucket, key = split_s3_uri(uri)
        if bucket != self.bucket or not key.startswith(self.prefix):
            raise ValueError(f"{uri} is outside the landing zone {self.root_uri}")
        return key[len(self.prefix) :]
