"""CUR manifests (legacy and CUR 2.0) parsed into one Delivery description."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

SourceFormat = Literal["legacy", "cur2"]

LEGACY_MANIFEST = re.compile(
    r"^(?:(?P<prefix>.*)/)?(?P<report>[^/]+)/(?P<start>\d{8})-(?P<end>\d{8})/(?P=report)-Manifest\.json$"
)
CUR2_MANIFEST = re.compile(
    r"^(?:(?P<prefix>.*)/)?(?P<export>[^/]+)/metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/"
    r"(?P=export)-Manifest\.json$"
)
# AWS account ids have 12 digits; some published test CURs (koku's) use 13
_ACCOUNT_ID = re.compile(r"^\d{12,13}$")


class ManifestError(ValueError):
    """A manifest that cannot be trusted: the delivery it describes is not loaded."""


@dataclass(frozen=True)
class Delivery:
    """One complete CUR snapshot of a (payer, billing period) partition."""

    payer_account_id: str
    billing_period: date
    manifest_id: str
    source_format: SourceFormat
    report_name: str
    manifest_key: str
    data_uris: tuple[str, ...]
    columns: tuple[str, ...] = field(default=())

    @property
    def partition(self) -> tuple[str, date]:
        return self.payer_account_id, self.billing_period

    @property
    def period_label(self) -> str:
        return self.billing_period.strftime("%Y-%m")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["billing_period"] = self.billing_period.isoformat()
        data["data_uris"] = list(self.data_uris)
        data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        return cls(
            payer_account_id=data["payer_account_id"],
            billing_period=date.fromisoformat(data["billing_period"]),
            manifest_id=data["manifest_id"],
            source_format=data["source_format"],
            report_name=data["report_name"],
            manifest_key=data["manifest_key"],
            data_uris=tuple(data["data_uris"]),
            columns=tuple(data.get("columns", ())),
        )


def manifest_format(key: str) -> SourceFormat | None:
    """Which layout a landing-zone key is the manifest of, or None when it is not a manifest."""
    if CUR2_MANIFEST.match(key):
        return "cur2"
    if LEGACY_MANIFEST.match(key):
        return "legacy"
    return None


def parse_manifest(key: str, raw: bytes | str) -> Delivery:
    fmt = manifest_format(key)
    if fmt is None:
        raise ManifestError(f"{key}: not a CUR manifest path")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{key}: manifest is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(body, dict):
        raise ManifestError(f"{key}: manifest must be a JSON object")
    return _parse_legacy(key, body) if fmt == "legacy" else _parse_cur2(key, body)


def _require(body: dict[str, Any], key: str, name: str) -> Any:
    value = body.get(name)
    if value in (None, "", []):
        raise ManifestError(f"{key}: manifest has no {name!r}")
    return value


def _column_names(key: str, body: dict[str, Any]) -> tuple[str, ...]:
    columns = body.get("columns") or []
    for column in columns:
        if not isinstance(column, dict) or "name" not in column:
            raise ManifestError(f"{key}: malformed entry in 'columns': {column!r}")
    return tuple(str(column["name"]) for column in columns)


def _parse_aws_timestamp(key: str, value: str) -> date:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%S.%fZ").date()
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"{key}: billingPeriod value {value!r} is not like 20250101T000000.000Z") from exc


def _check_account(key: str, account: str) -> str:
    if not _ACCOUNT_ID.match(str(account)):
        raise ManifestError(f"{key}: payer account {account!r} is not an AWS account id (12 digits)")
    return str(account)


def _parse_legacy(key: str, body: dict[str, Any]) -> Delivery:
    match = LEGACY_MANIFEST.match(key)
    assert match is not None
    period = _require(body, key, "billingPeriod")
    start = _parse_aws_timestamp(key, period.get("start"))
    if start.strftime("%Y%m%d") != match["start"] or start.day != 1:
        raise ManifestError(f"{key}: billingPeriod start {start} does not match the folder {match['start']}")
    bucket = _require(body, key, "bucket")
    report_keys = _require(body, key, "reportKeys")
    return Delivery(
        payer_account_id=_check_account(key, _require(body, key, "account")),
        billing_period=start,
        manifest_id=str(_require(body, key, "assemblyId")),
        source_format="legacy",
        report_name=str(body.get("reportName") or match["report"]),
        manifest_key=key,
        data_uris=tuple(f"s3://{bucket}/{report_key.lstrip('/')}" for report_key in report_keys),
        columns=_column_names(key, body),
    )


def _parse_cur2(key: str, body: dict[str, Any]) -> Delivery:
    match = CUR2_MANIFEST.match(key)
    assert match is not None
    export_arn = str(_require(body, key, "exportArn"))
    arn_parts = export_arn.split(":")
    if len(arn_parts) < 6 or not arn_parts[0] == "arn":
        raise ManifestError(f"{key}: exportArn {export_arn!r} is not an ARN")
    data_files = _require(body, key, "dataFiles")
    for uri in data_files:
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise ManifestError(f"{key}: dataFiles entry {uri!r} is not an s3:// URI")
    return Delivery(
        payer_account_id=_check_account(key, arn_parts[4]),
        billing_period=date.fromisoformat(f"{match['period']}-01"),
        manifest_id=str(_require(body, key, "executionId")),
        source_format="cur2",
        report_name=match["export"],
        manifest_key=key,
        data_uris=tuple(data_files),
        columns=_column_names(key, body),
    )
