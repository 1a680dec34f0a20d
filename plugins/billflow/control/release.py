"""A release: the one transaction that makes checked data live.

Everything a load or a close produces is built and tested beside what is live: staged versions next to
the live ones, a candidate warehouse file, the serving shadow schemas (billflow.serving.shadow). The
release commits, in ONE transaction of the serving database:

* the new live version of each partition it carries (the replaced one is retired, kept for audit),
* the load ledger rows of their deliveries,
* the resolution of rejections their partitions had,
* the serving shadow copied over the live serving tables (published marts and billing models),
* a row in `billing_control.releases`.

Readers see everything before the release or everything after it. The warehouse file is renamed into
place right after the commit (billflow.warehouse.build); a crash between the two is completed by the next
run from the committed release id. Release ids are sortable (`r<UTC time, microseconds>`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from billflow.control.ledger import LedgerEntry, record_loads
from billflow.control.rejections import resolve_superseded
from billflow.control.schema import CONTROL_SCHEMA
from billflow.control.versions import StagedVersion, switch_live_versions
from billflow.engines.database import Database
from billflow.formats.manifest import Delivery
from billflow.serving.shadow import swap_in_serving_shadow

log = logging.getLogger(__name__)

LOAD, CLOSE = "load", "close"


@dataclass(frozen=True)
class Release:
    release_id: str
    run_id: str
    kind: str  # LOAD: staged versions + warehouse + serving; CLOSE: serving only
    versions: tuple[StagedVersion, ...] = ()
    deliveries: tuple[Delivery, ...] = ()  # the deliveries of `versions`, same order (for the ledger)


def new_release_id(now: datetime | None = None) -> str:
    return f"r{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%S%f}Z"


def latest_release_id(db: Database, kind: str | None = None) -> str | None:
    where = "where kind = ?" if kind else ""
    rows = db.fetch_all(f"select max(release_id) from {CONTROL_SCHEMA}.releases {where}", (kind,) if kind else ())
    return rows[0][0] if rows else None


def commit_release(db: Database, release: Release, now: datetime | None = None) -> None:
    """Make the release live, all of it or nothing (see the module docstring)."""
    stamp = (now or datetime.now(UTC)).replace(tzinfo=None)
    if len(release.versions) != len(release.deliveries):
        raise ValueError("a release needs the delivery of each of its versions")
    with db.transaction():
        db.execute(
            f"insert into {CONTROL_SCHEMA}.releases values (?, ?, ?, ?, ?)",
            (release.release_id, release.run_id, release.kind, stamp, len(release.versions)),
        )
        switch_live_versions(db, release.release_id, list(release.versions))
        record_loads(
            db,
            [
                LedgerEntry(delivery, item.raw_row_count, item.unblended_cost)
                for item, delivery in zip(release.versions, release.deliveries, strict=True)
            ],
            loaded_at=stamp,
        )
        resolve_superseded(
            db,
            [(v.version.payer_account_id, v.version.billing_period, v.version.version_id) for v in release.versions],
            stamp,
        )
        swap_in_serving_shadow(db)
    log.info(
        "release %s (%s) committed: %s",
        release.release_id,
        release.kind,
        ", ".join(v.version.label for v in release.versions) or "no new staged versions",
    )
