"""Find complete CUR deliveries in a landing zone, and say why every other manifest is not loaded."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from billflow.formats.manifest import (
    Delivery,
    ManifestError,
    manifest_format,
    manifest_layout,
    manifest_report,
    parse_manifest,
)
from billflow.storage.base import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    """A manifest that will not be loaded, and why."""

    manifest_key: str
    reason: str  # a full sentence that starts with the manifest key
    payer_account_id: str | None = None  # when known
    billing_period: date | None = None
    manifest_id: str | None = None


@dataclass(frozen=True)
class Waiting:
    """A manifest whose listed data files are not all in the landing zone yet."""

    manifest_key: str
    missing_keys: tuple[str, ...]  # in the manifest's order
    listed: int  # how many data files the manifest lists
    manifest_modified_at: datetime  # UTC, from the store
    payer_account_id: str
    billing_period: date
    manifest_id: str


@dataclass(frozen=True)
class Discovery:
    deliveries: list[Delivery]  # complete, one per (payer, billing period), in that order
    waiting: list[Waiting]
    rejected: list[Rejection]


def discover_deliveries(store: ObjectStore, prefix: str = "", report_names: Collection[str] | None = None) -> Discovery:
    """Every (payer, billing period) whose manifest and all listed data files are in the landing zone.

    A manifest is the signal of a complete delivery; data files without one are ignored. Only canonical
    manifest paths match the manifest patterns (a legacy report's per-assembly copies do not).
    Manifests of reports not in report_names (when given) are ignored. Each manifest is judged on its own:
    whatever goes wrong with one becomes its Rejection and the others are still found. When several
    manifests describe one (payer, billing period), none of them is loaded: every one is rejected.
    """
    objects = {info.key: info for info in store.list_objects(prefix)}
    parsed, rejected = _read_manifests(store, objects, report_names)
    deliveries, waiting = [], []
    for partition, group in _by_partition(parsed).items():
        if len(group) > 1:
            rejected.extend(_duplicates(partition, [item.delivery for item in group]))
            continue
        [item] = group
        missing = tuple(key for key in item.data_keys if key not in objects)
        if missing:
            log.info("%s: %d of %d data files not landed yet", item.manifest.key, len(missing), len(item.data_keys))
            waiting.append(_waiting(item, missing))
        else:
            deliveries.append(item.delivery)
    deliveries.sort(key=lambda d: d.partition)
    waiting.sort(key=lambda w: w.manifest_key)
    rejected.sort(key=lambda r: r.manifest_key)
    return Discovery(deliveries, waiting, rejected)


@dataclass(frozen=True)
class _Parsed:
    delivery: Delivery
    manifest: ObjectInfo
    data_keys: tuple[str, ...]  # keys of the store


def _read_manifests(
    store: ObjectStore, objects: dict[str, ObjectInfo], report_names: Collection[str] | None
) -> tuple[list[_Parsed], list[Rejection]]:
    parsed, rejected = [], []
    for key, info in objects.items():
        if manifest_format(key) is None:
            continue
        if report_names is not None and manifest_report(key) not in report_names:
            log.debug("%s: report not in BILLFLOW_REPORT_NAMES, ignored", key)
            continue
        delivery = None
        try:
            manifest_layout(key)  # a key that breaks the rules is not even read
            delivery = parse_manifest(key, store.read_bytes(key))
            parsed.append(_Parsed(delivery, info, _data_keys(delivery)))
        except ManifestError as exc:
            log.warning("skipping manifest %s", exc)
            rejected.append(_rejection(key, str(exc), delivery))
        except Exception as exc:  # whatever goes wrong, it rejects this manifest only
            reason = f"{key}: cannot read the manifest ({type(exc).__name__}: {exc})"
            log.warning("skipping manifest %s", reason, exc_info=exc)
            rejected.append(_rejection(key, reason, delivery))
    return parsed, rejected


def _data_keys(delivery: Delivery) -> tuple[str, ...]:
    try:
        return delivery.data_keys
    except ValueError as exc:
        raise ManifestError(f"{delivery.manifest_key}: {exc}") from exc


def _waiting(item: _Parsed, missing: tuple[str, ...]) -> Waiting:
    delivery = item.delivery
    return Waiting(
        delivery.manifest_key,
        missing,
        len(item.data_keys),
        item.manifest.last_modified,
        delivery.payer_account_id,
        delivery.billing_period,
        delivery.manifest_id,
    )


def _rejection(key: str, reason: str, delivery: Delivery | None) -> Rejection:
    if delivery is not None:
        return Rejection(key, reason, delivery.payer_account_id, delivery.billing_period, delivery.manifest_id)
    try:
        period = manifest_layout(key).billing_period
    except ManifestError:
        period = None
    return Rejection(key, reason, billing_period=period)


def _by_partition(parsed: list[_Parsed]) -> dict[tuple[str, date], list[_Parsed]]:
    groups: dict[tuple[str, date], list[_Parsed]] = defaultdict(list)
    for item in parsed:
        groups[item.delivery.partition].append(item)
    return groups


def _duplicates(partition: tuple[str, date], deliveries: list[Delivery]) -> list[Rejection]:
    """Loading one of them would be a guess: the operator chooses with BILLFLOW_REPORT_NAMES."""
    payer, period = partition
    keys = sorted(delivery.manifest_key for delivery in deliveries)
    rejections = []
    for delivery in sorted(deliveries, key=lambda d: d.manifest_key):
        others = ", ".join(k for k in keys if k != delivery.manifest_key)
        reason = (
            f"{delivery.manifest_key}: payer {payer} period {period:%Y-%m} is also delivered by {others}; "
            "none of these manifests is loaded: set BILLFLOW_REPORT_NAMES to the report(s) to load"
        )
        log.warning("skipping manifest %s", reason)
        rejections.append(Rejection(delivery.manifest_key, reason, payer, period, delivery.manifest_id))
    return rejections
