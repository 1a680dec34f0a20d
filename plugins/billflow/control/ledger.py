"""The load ledger: which manifest of each (payer, billing period) is loaded into the marts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from billflow.control.schema import CONTROL_SCHEMA
from billflow.engines.database import Database
from billflow.formats.manifest import Delivery


@dataclass(frozen=True)
class LedgerEntry:
    delivery: Delivery
    raw_row_count: int
    unblended_cost: Decimal


def loaded_manifests(db: Database) -> set[tuple[str, str, str]]:
    """(payer, 'YYYY-MM', manifest id) of every load the ledger holds."""
    rows = db.fetch_all(f"select payer_account_id, billing_period, manifest_id from {CONTROL_SCHEMA}.load_ledger")
    return {(payer, period.strftime("%Y-%m"), manifest_id) for payer, period, manifest_id in rows}


def loaded_manifest_keys(db: Database) -> dict[tuple[str, object, str], str]:
    """(payer, billing period, manifest id) -> the manifest key the load ledger recorded for it."""
    rows = db.fetch_all(
        f"select payer_account_id, billing_period, manifest_id, manifest_uri from {CONTROL_SCHEMA}.load_ledger"
    )
    return {(payer, period, manifest_id): uri for payer, period, manifest_id, uri in rows}


def new_deliveries(db: Database, deliveries: Iterable[Delivery]) -> list[Delivery]:
    loaded = loaded_manifests(db)
    return [d for d in deliveries if (d.payer_account_id, d.period_label, d.manifest_id) not in loaded]


def record_loads(db: Database, entries: Iterable[LedgerEntry], loaded_at: datetime | None = None) -> int:
    """Record loaded manifests; recording the same manifest again only refreshes its row."""
    stamp = (loaded_at or datetime.now(UTC)).replace(tzinfo=None)
    count = 0
    with db.transaction():
        for entry in entries:
            d = entry.delivery
            key = (d.payer_account_id, d.billing_period, d.manifest_id)
            db.execute(
                f"delete from {CONTROL_SCHEMA}.load_ledger "
                "where payer_account_id = ? and billing_period = ? and manifest_id = ?",
                key,
            )
            db.execute(
                f"insert into {CONTROL_SCHEMA}.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, d.source_format, d.manifest_key, entry.raw_row_count, entry.unblended_cost, stamp),
            )
            count += 1
    return count
