"""Deliveries that were not loaded, kept until someone's action resolves them.

A problem a person must act on never ends as a log line: every run records what it could not load in
`billing_control.delivery_rejections` and fails its last task while any rejection is open, naming each
manifest and why. A rejection is resolved when a newer version of its partition goes live, or when its
manifest changes or leaves the landing zone. A rejected delivery is not staged again (unless a reload is
forced): its manifest id stays rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from billflow.control.schema import CONTROL_SCHEMA
from billflow.engines.database import Database

# where a delivery was stopped
STAGES = ("manifest", "duplicate", "incomplete", "staging", "gate")


@dataclass(frozen=True)
class Problem:
    stage: str
    manifest_key: str
    reason: str
    manifest_id: str = ""  # '' when the manifest could not be read
    payer_account_id: str | None = None
    billing_period: date | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown problem stage {self.stage!r}, expected one of {STAGES}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["billing_period"] = self.billing_period.isoformat() if self.billing_period else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        period = data.get("billing_period")
        return cls(
            stage=str(data["stage"]),
            manifest_key=str(data["manifest_key"]),
            reason=str(data["reason"]),
            manifest_id=str(data.get("manifest_id") or ""),
            payer_account_id=data.get("payer_account_id"),
            billing_period=date.fromisoformat(period) if period else None,
        )

    def describe(self) -> str:
        where = ""
        if self.payer_account_id and self.billing_period:
            where = f" (payer {self.payer_account_id}, {self.billing_period:%Y-%m})"
        reason = self.reason.removeprefix(f"{self.manifest_key}: ")  # discovery's reasons start with the key
        return f"[{self.stage}] {self.manifest_key}{where}: {reason}"


_COLUMNS = "stage, manifest_key, reason, manifest_id, payer_account_id, billing_period"


def record_problems(db: Database, problems: Iterable[Problem], now: datetime) -> None:
    """Open (or keep open, refreshing the reason) a rejection per problem."""
    with db.transaction():
        for problem in problems:
            key = (problem.manifest_key, problem.manifest_id)
            db.execute(
                f"delete from {CONTROL_SCHEMA}.delivery_rejections where manifest_key = ? and manifest_id = ? "
                "and resolved_at is not null",
                key,
            )
            existing = db.fetch_all(
                f"select first_seen_at from {CONTROL_SCHEMA}.delivery_rejections "
                "where manifest_key = ? and manifest_id = ?",
                key,
            )
            if existing:
                db.execute(
                    f"update {CONTROL_SCHEMA}.delivery_rejections set stage = ?, reason = ?, payer_account_id = ?, "
                    "billing_period = ?, last_seen_at = ? where manifest_key = ? and manifest_id = ?",
                    (problem.stage, problem.reason, problem.payer_account_id, problem.billing_period, now, *key),
                )
            else:
                db.execute(
                    f"insert into {CONTROL_SCHEMA}.delivery_rejections (manifest_key, manifest_id, payer_account_id, "
                    "billing_period, stage, reason, first_seen_at, last_seen_at, resolved_at, resolution) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?, null, null)",
                    (*key, problem.payer_account_id, problem.billing_period, problem.stage, problem.reason, now, now),
                )


def _resolve(db: Database, manifest_key: str, manifest_id: str, resolution: str, now: datetime) -> None:
    db.execute(
        f"update {CONTROL_SCHEMA}.delivery_rejections set resolved_at = ?, resolution = ? "
        "where manifest_key = ? and manifest_id = ? and resolved_at is null",
        (now, resolution, manifest_key, manifest_id),
    )


def resolve_gone(db: Database, current: Mapping[str, str], still_problems: Iterable[Problem], now: datetime) -> None:
    """Resolve the rejections whose manifest left the landing zone or now holds another delivery.

    `current`: manifest key -> manifest id ('' when unreadable) of every manifest in the landing zone now;
    `still_problems`: what this run found wrong (those stay open)."""
    still = {(p.manifest_key, p.manifest_id) for p in still_problems}
    with db.transaction():
        for problem in open_problems(db):
            key = (problem.manifest_key, problem.manifest_id)
            if key in still:
                continue
            if problem.manifest_key not in current:
                _resolve(db, *key, "the manifest left the landing zone", now)
            elif current[problem.manifest_key] != problem.manifest_id:
                _resolve(db, *key, f"the manifest now describes delivery {current[problem.manifest_key]!r}", now)
            elif problem.stage in ("manifest", "duplicate", "incomplete"):
                _resolve(db, *key, "the manifest is now complete and readable", now)


def resolve_superseded(db: Database, partitions: Iterable[tuple[str, date, str]], now: datetime) -> None:
    """Resolve open rejections of partitions that just got a new live version (payer, period, version id)."""
    for payer, period, version_id in partitions:
        db.execute(
            f"update {CONTROL_SCHEMA}.delivery_rejections set resolved_at = ?, resolution = ? "
            "where payer_account_id = ? and billing_period = ? and resolved_at is null",
            (now, f"superseded by version {version_id}", payer, period),
        )


def open_problems(db: Database) -> list[Problem]:
    rows = db.fetch_all(
        f"select {_COLUMNS} from {CONTROL_SCHEMA}.delivery_rejections where resolved_at is null "
        "order by first_seen_at, manifest_key, manifest_id"
    )
    return [
        Problem(stage, key, reason, manifest_id, payer, period)
        for stage, key, reason, manifest_id, payer, period in rows
    ]


def rejected_deliveries(db: Database) -> set[tuple[str, str]]:
    """(manifest key, manifest id) of every open rejection: not staged again unless a reload is forced."""
    return {(p.manifest_key, p.manifest_id) for p in open_problems(db)}
