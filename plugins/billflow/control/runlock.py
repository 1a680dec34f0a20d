"""The single-run lock: one load or close at a time.

The lock is a row of `billing_control.run_lock` in the serving database, so it holds across Airflow
tasks (separate processes) and workers alike. It is a lease with a holder:

* `dag:<dag_id>:<run_id>` for a DAG run: taken by its first task, given back by its last one (which runs
  whatever failed). A DAG has at most one active run, so a lock still held by another run of the same DAG
  is stale (that run ended without giving it back) and is taken over.
* any lock past `expires_at` is taken over (a crash on another host); taking the lock sets the lease.

Taking it is a compare-and-set on the row's token, so two takers never both win.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from billflow.control.schema import CONTROL_SCHEMA
from billflow.engines.database import Database

log = logging.getLogger(__name__)

LOCK_NAME = "billflow"
DEFAULT_LEASE = timedelta(hours=12)


class AnotherRunIsActive(RuntimeError):
    """Another load or close holds the run lock."""


@dataclass(frozen=True)
class Holder:
    """Who takes the lock: a DAG run."""

    name: str

    @classmethod
    def dag_run(cls, dag_id: str, run_id: str) -> Holder:
        return cls(f"dag:{dag_id}:{run_id}")


@dataclass(frozen=True)
class LockState:
    token: str | None
    holder: str | None
    acquired_at: datetime | None
    expires_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def read_lock(db: Database) -> LockState:
    rows = db.fetch_all(
        f"select token, holder, acquired_at, expires_at from {CONTROL_SCHEMA}.run_lock where lock_name = ?",
        (LOCK_NAME,),
    )
    if not rows:
        raise RuntimeError(f"{CONTROL_SCHEMA}.run_lock has no '{LOCK_NAME}' row: run ensure_control_tables first")
    return LockState(*rows[0])


def stale_reason(state: LockState, taker: Holder, now: datetime) -> str | None:
    """Why the current holder no longer runs (the lock may be taken), or None when it may still run."""
    holder = state.holder
    if holder is None:
        return "free"
    if holder == taker.name:
        return "held by this run already"
    if state.expires_at is not None and state.expires_at <= now:
        return f"the lease of {holder} expired at {state.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    if holder.startswith("dag:") and taker.name.startswith("dag:"):
        holder_dag, taker_dag = holder.split(":")[1], taker.name.split(":")[1]
        if holder_dag == taker_dag:
            return f"{holder} ended without giving the lock back (its DAG runs one run at a time)"
    return None


def acquire(db: Database, taker: Holder, lease: timedelta = DEFAULT_LEASE, now: Callable[[], datetime] = _now) -> str:
    """Take the lock for `taker`; returns the token. Raises AnotherRunIsActive when someone else holds it."""
    state = read_lock(db)
    stamp = now()
    reason = stale_reason(state, taker, stamp)
    if reason is None:
        raise AnotherRunIsActive(
            f"another load is running: the run lock is held by {state.holder} since "
            f"{state.acquired_at:%Y-%m-%d %H:%M:%S} UTC (lease until {state.expires_at:%Y-%m-%d %H:%M:%S} UTC); "
            "wait for it to finish"
        )
    token = uuid.uuid4().hex
    with db.transaction():
        db.execute(
            f"update {CONTROL_SCHEMA}.run_lock set token = ?, holder = ?, acquired_at = ?, expires_at = ? "
            "where lock_name = ? and token is not distinct from ?",
            (token, taker.name, stamp, stamp + lease, LOCK_NAME, state.token),
        )
    won = read_lock(db)
    if won.token != token:
        raise AnotherRunIsActive(f"another load is running: {won.holder} took the run lock at the same moment")
    if reason != "free":
        log.warning("run lock taken over by %s: %s", taker.name, reason)
    log.info("run lock taken by %s", taker.name)
    return token


def release(db: Database, taker: Holder) -> bool:
    """Give the lock back if `taker` holds it; returns whether it did (never frees another holder's lock)."""
    state = read_lock(db)
    if state.holder != taker.name:
        if state.holder is not None:
            log.warning("run lock not released: it is held by %s, not %s", state.holder, taker.name)
        return False
    with db.transaction():
        db.execute(
            f"update {CONTROL_SCHEMA}.run_lock set token = null, holder = null, acquired_at = null, "
            "expires_at = null where lock_name = ? and token = ?",
            (LOCK_NAME, state.token),
        )
    log.info("run lock released by %s", taker.name)
    return True


def check_held(db: Database, taker: Holder) -> None:
    """Raise unless `taker` holds the lock (a step that writes live data checks it first)."""
    state = read_lock(db)
    if state.holder != taker.name:
        raise AnotherRunIsActive(f"this run ({taker.name}) does not hold the run lock (held by {state.holder})")
