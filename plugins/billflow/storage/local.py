"""Local-disk adapter of the object-store port (the embedded default)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from billflow.storage.base import split_s3_uri


class LocalStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root_uri = str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"key {key!r} points outside {self.root}")
        return path

    def list_keys(self, prefix: str = "") -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                keys.append(Path(dirpath, name).relative_to(self.root).as_posix())
        return sorted(keys)

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()

    def replace_prefix(self, source_prefix: str, target_prefix: str) -> None:
        # Two renames within one file system: readers see the old folder or the new one, never a mix.
        source, target = self._path(source_prefix), self._path(target_prefix)
        if not source.is_dir():
            raise FileNotFoundError(f"nothing to promote: {source} does not exist")
        target.parent.mkdir(parents=True, exist_ok=True)
        retired = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
        if target.exists():
            os.replace(target, retired)
        os.replace(source, target)
        if retired.exists():
            shutil.rmtree(retired)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def key_from_uri(self, uri: str) -> str:
        if uri.startswith("s3://"):
            _bucket, key = split_s3_uri(uri)
            return key
        path = Path(uri)
        if path.is_absolute():
            return path.resolve().relative_to(self.root).as_posix()
        return uri.lstrip("/")
