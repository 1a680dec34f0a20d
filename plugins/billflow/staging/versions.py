"""Where the versions of a staged partition live in the staged store.

Every delivery is staged into a version of its own (payer, billing period) partition; nothing is ever
staged over a live version. Which version is live is recorded in the control table
`billing_control.staged_versions`, switched only by a release after every check passed:

    versions/payer=<payer>/period=<YYYY-MM>/<version id>/cur_daily/part-0.parquet
                                                        /cur_daily_tags/part-0.parquet
                                                        /raw_totals.parquet
                                                        /raw_checks.json

A version id is `<UTC time, microseconds>Z-<manifest id>`: unique per staging attempt (a forced reload of
the same manifest gets a new one), sortable in time, and it names the delivery it came from. Every part of
a key is validated here: a key that does not parse is never treated as a version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from billflow.storage.base import ObjectStore

VERSIONS_ROOT = "versions"
COST_TABLE = "cur_daily"
TAG_TABLE = "cur_daily_tags"
RAW_TOTALS_FILE = "raw_totals.parquet"
RAW_CHECKS_FILE = "raw_checks.json"
PART_FILE = "part-0.parquet"

_PAYER = re.compile(r"^\d{12,13}$")
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_MANIFEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_VERSION_ID = re.compile(r"^\d{8}T\d{12}Z-[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_VERSION_KEY = re.compile(
    rf"^{VERSIONS_ROOT}/payer=(?P<payer>[^/]+)/period=(?P<period>[^/]+)/(?P<version>[^/]+)/(?P<rest>.+)$"
)


class VersionKeyError(ValueError):
    """A payer, period, manifest or version id that may not become part of a staged key."""


@dataclass(frozen=True, order=True)
class VersionRef:
    """One version of one staged partition."""

    payer_account_id: str
    billing_period: date
    version_id: str

    def __post_init__(self) -> None:
        check_payer(self.payer_account_id)
        check_version_id(self.version_id)
        if self.billing_period.day != 1:
            raise VersionKeyError(f"billing period {self.billing_period} is not the first day of a month")

    @property
    def period_label(self) -> str:
        return self.billing_period.strftime("%Y-%m")

    @property
    def prefix(self) -> str:
        return f"{VERSIONS_ROOT}/payer={self.payer_account_id}/period={self.period_label}/{self.version_id}"

    @property
    def cost_key(self) -> str:
        return f"{self.prefix}/{COST_TABLE}/{PART_FILE}"

    @property
    def tags_key(self) -> str:
        return f"{self.prefix}/{TAG_TABLE}/{PART_FILE}"

    @property
    def raw_totals_key(self) -> str:
        return f"{self.prefix}/{RAW_TOTALS_FILE}"

    @property
    def raw_checks_key(self) -> str:
        return f"{self.prefix}/{RAW_CHECKS_FILE}"

    @property
    def manifest_id(self) -> str:
        return self.version_id.split("-", 1)[1]

    @property
    def label(self) -> str:
        return f"{self.payer_account_id} {self.period_label} {self.version_id}"


def check_payer(payer: str) -> str:
    if not isinstance(payer, str) or not _PAYER.match(payer):
        raise VersionKeyError(f"payer account {payer!r} is not an AWS account id")
    return payer


def check_version_id(version_id: str) -> str:
    if not isinstance(version_id, str) or not _VERSION_ID.match(version_id):
        raise VersionKeyError(f"version id {version_id!r} is not <YYYYMMDDTHHMMSSffffff>Z-<manifest id>")
    return version_id


def new_version_id(manifest_id: str, now: datetime | None = None) -> str:
    if not isinstance(manifest_id, str) or not _MANIFEST_ID.match(manifest_id):
        raise VersionKeyError(f"manifest id {manifest_id!r} may not be part of a staged key")
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{stamp:%Y%m%dT%H%M%S%f}Z-{manifest_id}"


def parse_period(label: str) -> date:
    match = _PERIOD.match(label)
    if not match:
        raise VersionKeyError(f"period {label!r} is not YYYY-MM")
    return date(int(match[1]), int(match[2]), 1)


def version_of_key(key: str) -> VersionRef | None:
    """The version a staged key belongs to; None for keys outside the versions layout or that do not parse."""
    match = _VERSION_KEY.match(key)
    if not match:
        return None
    try:
        return VersionRef(match["payer"], parse_period(match["period"]), match["version"])
    except VersionKeyError:
        return None


def stored_versions(store: ObjectStore) -> set[VersionRef]:
    """Every version that has at least one object in the store (complete or not)."""
    versions = (version_of_key(key) for key in store.list_keys(VERSIONS_ROOT))
    return {version for version in versions if version is not None}


def delete_version(store: ObjectStore, version: VersionRef) -> None:
    store.delete_prefix(version.prefix)
