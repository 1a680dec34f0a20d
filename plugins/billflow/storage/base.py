"""Object-store port: the landing zone and the staged area are both read and written through it."""

from __future__ import annotations

from typing import Protocol


class ObjectStore(Protocol):
    """Keys are '/'-separated and relative to the store's root (a folder or an s3://bucket/prefix)."""

    root_uri: str

    def list_keys(self, prefix: str = "") -> list[str]: ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def replace_prefix(self, source_prefix: str, target_prefix: str) -> None:
        """Make target_prefix hold exactly what source_prefix holds, then drop source_prefix."""
        ...

    def uri(self, key: str) -> str:
        """A URI the query engine can read (a local path or an s3:// URI)."""
        ...

    def key_from_uri(self, uri: str) -> str:
        """Map a URI written in a manifest (s3://bucket/key or a bare key) to a key of this store."""
        ...


def open_store(uri: str, aws_conn_id: str = "aws_default") -> ObjectStore:
    if uri.startswith("s3://"):
        from billflow.storage.s3 import S3Store

        return S3Store(uri, aws_conn_id=aws_conn_id)
    from billflow.storage.local import LocalStore

    return LocalStore(uri)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/some/key' -> ('bucket', 'some/key')."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"s3 URI without a bucket: {uri!r}")
    return bucket, key
