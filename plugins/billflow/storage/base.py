"""Object-store port: the landing zone and the staged area are both read and written through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int  # bytes
    last_modified: datetime  # UTC, timezone-aware


class ObjectStore(Protocol):
    """Keys are '/'-separated and relative to the store's root (a folder or an s3://bucket/prefix).

    Every method refuses keys and prefixes that break billflow.formats.identifiers.object_key (absolute,
    '..', '.' or empty segments, backslashes, control characters) with an IdentifierError (a ValueError).
    A prefix is a folder: 'a/b' is the key 'a/b' itself or the keys under 'a/b/', never 'a/bc'.
    """

    root_uri: str

    def list_keys(self, prefix: str = "") -> list[str]:
        """The keys under prefix (the whole store when it is ''), sorted."""
        ...

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        """The objects under prefix (the whole store when it is ''), sorted by key; one listing on S3."""
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def write_file(self, key: str, path: Path) -> None:
        """Store the local file `path` under `key` without reading it into memory (replaces the key whole)."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> None:
        """Delete the folder; the empty prefix (the whole store) is refused."""
        ...

    def uri(self, key: str) -> str:
        """A URI the query engine can read (a local path or an s3:// URI)."""
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
