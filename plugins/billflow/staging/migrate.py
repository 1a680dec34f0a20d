"""Upgrade a staged area written by billflow before staged versions existed.

Earlier versions kept one live file per partition (`cur_daily/payer=<p>/period=<m>/part-0.parquet`, and
`cur_daily_tags/...` beside it) and staged candidates under `_candidates/`. Those partitions were gated
when they were loaded; they become the live versions they are, so an upgrade loses nothing: each is
copied into the versioned layout, recorded as live by an `adopt` release, and the old files are removed
once recorded. Candidates of the old layout were never live and are removed.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import datetime
from decimal import Decimal

import pyarrow.parquet as pq

from billflow.control.ledger import loaded_manifest_keys
from billflow.control.release import new_release_id
from billflow.control.schema import CONTROL_SCHEMA
from billflow.control.versions import StagedVersion, live_versions, switch_live_versions
from billflow.engines.database import Database
from billflow.staging.columns import STAGED_TAG_SCHEMA
from billflow.staging.versions import VersionKeyError, VersionRef, new_version_id, parse_period
from billflow.storage.base import ObjectStore

log = logging.getLogger(__name__)

_OLD_PARTITION = re.compile(r"^cur_daily/payer=(?P<payer>\d{12,13})/period=(?P<period>\d{4}-\d{2})/part-0\.parquet$")
_OLD_ROOTS = ("cur_daily", "cur_daily_tags", "_candidates")
ADOPT = "adopt"


def _table_bytes(table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def adopt_unversioned_partitions(store: ObjectStore, db: Database, now: datetime) -> list[VersionRef]:
    """Adopt every partition of the old layout that has no live version yet; returns the new versions."""
    old_keys = [key for root in _OLD_ROOTS for key in store.list_keys(root)]
    if not old_keys:
        return []
    live = {(v.payer_account_id, v.billing_period) for v in live_versions(db)}
    manifest_keys = loaded_manifest_keys(db)
    adopted: list[StagedVersion] = []
    for key in old_keys:
        match = _OLD_PARTITION.match(key)
        if not match:
            continue
        payer, period = match["payer"], parse_period(match["period"])
        if (payer, period) in live:
            continue
        table = pq.read_table(io.BytesIO(store.read_bytes(key)))
        manifest_ids = set(table.column("manifest_id").to_pylist())
        if len(manifest_ids) != 1:
            raise RuntimeError(f"{key}: expected the rows of one delivery, found manifests {sorted(manifest_ids)}")
        manifest_id = manifest_ids.pop()
        try:
            version = VersionRef(payer, period, new_version_id(manifest_id, now))
        except VersionKeyError:
            version = VersionRef(payer, period, new_version_id("adopted", now))
        store.write_bytes(version.cost_key, store.read_bytes(key))
        tags_key = key.replace("cur_daily/", "cur_daily_tags/", 1)
        tags = store.read_bytes(tags_key) if store.exists(tags_key) else _table_bytes(STAGED_TAG_SCHEMA.empty_table())
        store.write_bytes(version.tags_key, tags)
        raw_rows = sum(table.column("line_item_count").to_pylist())
        unblended = sum(table.column("unblended_cost").to_pylist(), Decimal(0))
        adopted.append(
            StagedVersion(
                version,
                manifest_id,
                manifest_keys.get((payer, period, manifest_id), key),
                str(table.column("source_format")[0]) if table.num_rows else "legacy",
                raw_rows,
                table.num_rows,
                unblended,
                table.num_rows > 0 and table.column("invoice_id").null_count == 0,
            )
        )
    if adopted:
        release_id = new_release_id(now)
        with db.transaction():
            db.execute(
                f"insert into {CONTROL_SCHEMA}.releases values (?, ?, ?, ?, ?)",
                (release_id, "upgrade", ADOPT, now, len(adopted)),
            )
            switch_live_versions(db, release_id, adopted)
    for root in _OLD_ROOTS:
        store.delete_prefix(root)
    for item in adopted:
        log.warning("adopted the staged partition of an earlier version as %s", item.version.label)
    return [item.version for item in adopted]
