"""LocalStore stays inside its root whatever the key, and lists objects with their modification time.
(The behaviour both adapters share is tested in tests/integration/test_s3_landing.py.)"""

import os
from datetime import UTC, datetime

import pytest

from billflow.formats.identifiers import IdentifierError
from billflow.storage.base import ObjectInfo
from billflow.storage.local import LocalStore


def test_a_symbolic_link_out_of_the_root_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_bytes(b"{}")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    store = LocalStore(root)

    with pytest.raises(IdentifierError) as read:
        store.read_bytes("link/secret.json")
    with pytest.raises(IdentifierError) as delete:
        store.delete_prefix("link")

    assert str(read.value) == f"key 'link/secret.json' points outside {root}"
    assert str(delete.value) == f"key 'link' points outside {root}"
    assert (outside / "secret.json").read_bytes() == b"{}"


def test_a_folder_that_resolves_to_the_root_itself_is_not_deleted(tmp_path):
    root = tmp_path / "root"
    (root / "live").mkdir(parents=True)
    (root / "live" / "part-0.parquet").write_bytes(b"x")
    (root / "self").symlink_to(root)
    store = LocalStore(root)

    with pytest.raises(IdentifierError) as caught:
        store.delete_prefix("self")

    assert str(caught.value) == f"key 'self' points outside {root}"
    assert (root / "live" / "part-0.parquet").read_bytes() == b"x"


def test_list_objects_gives_the_files_mtime_in_utc(tmp_path):
    store = LocalStore(tmp_path)
    store.write_bytes("111111111111/r/m.json", b"{}")
    os.utime(tmp_path / "111111111111/r/m.json", (1_790_000_000, 1_790_000_000))

    assert store.list_objects("111111111111") == [
        ObjectInfo("111111111111/r/m.json", 2, datetime.fromtimestamp(1_790_000_000, tz=UTC))
    ]
    assert store.list_objects("111111111111/r/m.json") == store.list_objects()
    assert store.list_objects("missing") == []
