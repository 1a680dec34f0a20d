"""Which version of every staged partition is live, and which replaced versions are kept.

`billing_control.staged_versions` is the live pointer of the versioned staged area
(billflow.staging.versions): one row per version that ever went live; the live one has `retired_in` null.
Only a release (billflow.control.release) writes it, in the transaction that also switches the serving
tables, so the staged data, the marts and the invoices BI reads always belong to the same release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billflow.control.schema import CONTROL_SCHEMA
from billflow.engines.database import Database
from billflow.staging.versions import VersionRef


@dataclass(frozen=True)
class StagedVersion:
    """A staged version and the facts of the delivery it holds, as recorded when it goes live."""

    version: VersionRef
    manifest_id: str
    manifest_key: str
    source_format: str
    raw_row_count: int
    staged_row_count: int
    unblended_cost: Decimal
    is_final: bool


@dataclass(frozen=True)
class RecordedVersion:
    version: VersionRef
    released_in: str
    retired_in: str | None
    purged: bool


def live_versions(db: Database) -> list[VersionRef]:
    rows = db.fetch_all(
        f"select payer_account_id, billing_period, version_id from {CONTROL_SCHEMA}.staged_versions "
        "where retired_in is null order by payer_account_id, billing_period"
    )
    return [VersionRef(payer, period, version_id) for payer, period, version_id in rows]


def live_version_facts(db: Database) -> dict[tuple[str, date], tuple[str, bool]]:
    """(payer, billing period) -> (manifest id, is_final) of every live version."""
    rows = db.fetch_all(
        f"select payer_account_id, billing_period, manifest_id, is_final from {CONTROL_SCHEMA}.staged_versions "
        "where retired_in is null"
    )
    return {(payer, period): (manifest_id, bool(final)) for payer, period, manifest_id, final in rows}


def recorded_versions(db: Database) -> list[RecordedVersion]:
    rows = db.fetch_all(
        f"select payer_account_id, billing_period, version_id, released_in, retired_in, purged_at "
        f"from {CONTROL_SCHEMA}.staged_versions order by payer_account_id, billing_period, released_in"
    )
    return [
        RecordedVersion(VersionRef(payer, period, version_id), released_in, retired_in, purged is not None)
        for payer, period, version_id, released_in, retired_in, purged in rows
    ]


def switch_live_versions(db: Database, release_id: str, versions: list[StagedVersion]) -> None:
    """Retire the live version of each partition and make the new one live (inside the caller's transaction)."""
    for item in versions:
        ref = item.version
        db.execute(
            f"update {CONTROL_SCHEMA}.staged_versions set retired_in = ? "
            "where payer_account_id = ? and billing_period = ? and retired_in is null",
            (release_id, ref.payer_account_id, ref.billing_period),
        )
        db.execute(
            f"insert into {CONTROL_SCHEMA}.staged_versions (payer_account_id, billing_period, version_id, "
            "manifest_id, manifest_key, source_format, raw_row_count, staged_row_count, unblended_cost, is_final, "
            "released_in, retired_in, purged_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null)",
            (
                ref.payer_account_id,
                ref.billing_period,
                ref.version_id,
                item.manifest_id,
                item.manifest_key,
                item.source_format,
                item.raw_row_count,
                item.staged_row_count,
                item.unblended_cost,
                item.is_final,
                release_id,
            ),
        )


def versions_to_keep(db: Database, retained: int) -> set[VersionRef]:
    """Live versions, the `retained` most recently replaced versions of each partition, and every version
    an invoice lock was taken from (audit: which delivery produced which invoice)."""
    keep = set(live_versions(db))
    by_partition: dict[tuple[str, date], list[RecordedVersion]] = {}
    for recorded in recorded_versions(db):
        if recorded.retired_in is not None:
            key = (recorded.version.payer_account_id, recorded.version.billing_period)
            by_partition.setdefault(key, []).append(recorded)
    for retired in by_partition.values():
        retired.sort(key=lambda r: r.retired_in or "", reverse=True)
        keep.update(r.version for r in retired[:retained])
    rows = db.fetch_all(
        f"""select distinct v.payer_account_id, v.billing_period, v.version_id
        from {CONTROL_SCHEMA}.staged_versions as v
        inner join {CONTROL_SCHEMA}.invoice_locks as l
            on l.release_id is not null
            and v.released_in <= l.release_id
            and (v.retired_in is null or v.retired_in > l.release_id)"""
    )
    keep.update(VersionRef(payer, period, version_id) for payer, period, version_id in rows)
    return keep


def mark_purged(db: Database, versions: list[VersionRef], stamp) -> None:
    with db.transaction():
        for ref in versions:
            db.execute(
                f"update {CONTROL_SCHEMA}.staged_versions set purged_at = ? "
                "where payer_account_id = ? and billing_period = ? and version_id = ?",
                (stamp, ref.payer_account_id, ref.billing_period, ref.version_id),
            )
