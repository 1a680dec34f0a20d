"""S3 adapter of the object-store port, credentials from an Airflow connection (aws_default by default)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

from billflow.formats.identifiers import bucket_name, object_key, object_prefix
from billflow.storage.base import ObjectInfo, split_s3_uri

_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes


def s3_client(aws_conn_id: str) -> Any:
    """A boto3 S3 client built from the Airflow connection (endpoint_url in its extra for MinIO/moto)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id).get_conn()


class S3Store:
    """Prefixes are folders, as in LocalStore: 'a/b' is the key 'a/b' itself or the keys under 'a/b/',
    never 'a/bc' (so staging manifest 'm-1' cannot touch the candidate of 'm-10')."""

    def __init__(self, root_uri: str, aws_conn_id: str = "aws_default", client: Any = None) -> None:
        bucket, prefix = split_s3_uri(root_uri.rstrip("/"))
        self.bucket = bucket_name(bucket, "bucket of the store root")
        self.prefix = f"{object_prefix(prefix, 'prefix of the store root')}/" if prefix else ""
        self.root_uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.aws_conn_id = aws_conn_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.aws_conn_id)
        return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}{object_key(key)}"

    def _iter_objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        """The objects of the folder prefix ('' = the whole store); the caller has checked prefix."""
        full = f"{self.prefix}{prefix}"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                if not prefix or obj["Key"] == full or obj["Key"].startswith(f"{full}/"):
                    yield obj

    def list_keys(self, prefix: str = "") -> list[str]:
        return [info.key for info in self.list_objects(prefix)]

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        folder = object_prefix(prefix) if prefix else ""
        infos = [
            ObjectInfo(obj["Key"][len(self.prefix) :], int(obj["Size"]), obj["LastModified"].astimezone(UTC))
            for obj in self._iter_objects(folder)
        ]
        return sorted(infos, key=lambda info: info.key)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(self.uri(key)) from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data)

    def write_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._full(key))  # multipart above 8 MB

    def exists(self, key: str) -> bool:
        response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._full(key), MaxKeys=1)
        return any(obj["Key"] == self._full(key) for obj in response.get("Contents", []))

    def _delete_full_keys(self, full_keys: list[str]) -> None:
        for start in range(0, len(full_keys), _DELETE_BATCH):
            batch = [{"Key": k} for k in full_keys[start : start + _DELETE_BATCH]]
            response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            # DeleteObjects reports per-key failures in the response body, with HTTP 200
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise OSError(
                    f"could not delete {len(errors)} objects from s3://{self.bucket}, "
                    f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )

    def delete_prefix(self, prefix: str) -> None:
        self._delete_full_keys([obj["Key"] for obj in self._iter_objects(object_prefix(prefix))])

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"
