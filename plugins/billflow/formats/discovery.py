"""Find complete CUR deliveries in a landing zone."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from billflow.formats.manifest import Delivery, ManifestError, manifest_format, parse_manifest
from billflow.storage.base import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discovery:
    deliveries: list[Delivery]
    incomplete: list[str]  # manifests whose data files are not all there yet
    rejected: list[str]  # manifests that could not be parsed, with the reason


def discover_deliveries(store: ObjectStore, prefix: str = "") -> Discovery:
    """Every (payer, billing period) whose manifest and all listed data files are in the landing zone.

    A manifest is the signal of a complete delivery; data files without one are ignored.
    When one partition has several manifests (a legacy report also keeps per-assembly copies), the
    one at the canonical path wins because only canonical paths match the manifest patterns.
    """
    keys = store.list_keys(prefix)
    present = set(keys)
    deliveries: dict[tuple, Delivery] = {}
    incomplete, rejected = [], []
    for key in keys:
        if manifest_format(key) is None:
            continue
        try:
            delivery = parse_manifest(key, store.read_bytes(key))
            data_keys = [store.key_from_uri(uri) for uri in delivery.data_uris]
        except (ManifestError, ValueError) as exc:
            log.warning("skipping manifest %s", exc)
            rejected.append(str(exc))
            continue
        missing = [k for k in data_keys if k not in present]
        if missing:
            log.info("%s: %d of %d data files not landed yet", key, len(missing), len(data_keys))
            incomplete.append(key)
            continue
        if delivery.partition in deliveries:
            other = deliveries[delivery.partition]
            rejected.append(
                f"{key}: payer {delivery.payer_account_id} period {delivery.period_label} is also "
                f"delivered by {other.manifest_key}; keeping the first"
            )
            continue
        deliveries[delivery.partition] = delivery
    ordered = sorted(deliveries.values(), key=lambda d: (d.payer_account_id, d.billing_period))
    return Discovery(ordered, incomplete, rejected)
