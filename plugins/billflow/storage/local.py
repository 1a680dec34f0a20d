"""Local-disk adapter of the object-store port (the embedded default)."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from billflow.formats.identifiers import IdentifierError, object_key, object_prefix
from billflow.storage.base import ObjectInfo


class LocalStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root_uri = str(self.root)

    def _inside(self, path: Path, key: str) -> Path:
        # a checked key can still resolve elsewhere through a symbolic link
        resolved = path.resolve()
        if self.root not in resolved.parents:
            raise IdentifierError(f"key {key!r} points outside {self.root}")
        return resolved

    def _path(self, key: str) -> Path:
        return self._inside(self.root / object_key(key), key)

    def _folder(self, prefix: str) -> Path:
        return self._inside(self.root / object_prefix(prefix), prefix)

    def list_keys(self, prefix: str = "") -> list[str]:
        return [info.key for info in self.list_objects(prefix)]

    def list_objects(self, prefix: str = "") -> list[ObjectInfo]:
        base = self._folder(prefix) if prefix else self.root
        if base.is_file():
            paths = [base]
        elif base.is_dir():
            paths = [Path(dirpath, name) for dirpath, _dirs, files in os.walk(base) for name in files]
        else:
            return []
        infos = [info for info in map(self._info, paths) if info is not None]
        return sorted(infos, key=lambda info: info.key)

    def _info(self, path: Path) -> ObjectInfo | None:
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted since it was listed
            return None
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        return ObjectInfo(path.relative_to(self.root).as_posix(), stat.st_size, modified)

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def write_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete_prefix(self, prefix: str) -> None:
        path = self._folder(prefix)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()

    def uri(self, key: str) -> str:
        return str(self._path(key))
