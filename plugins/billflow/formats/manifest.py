"""CUR manifests (legacy and CUR 2.0) parsed into one Delivery description.

Every value taken from a manifest or from its key is checked (billflow.formats.identifiers) before it can
reach a path or SQL: a manifest that breaks a rule raises ManifestError, whose message starts with its key.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from billflow.formats import identifiers as ids
from billflow.formats.identifiers import IdentifierError, described, shown, type_name

SourceFormat = Literal["legacy", "cur2"]

# DOTALL: a key with a control character is still recognised as a manifest, then rejected with the reason
LEGACY_MANIFEST = re.compile(
    r"(?:(?P<prefix>.*)/)?(?P<report>[^/]+)/(?P<folder>\d{8}-\d{8})/(?P=report)-Manifest\.json",
    re.ASCII | re.DOTALL,
)
CUR2_MANIFEST = re.compile(
    r"(?:(?P<prefix>.*)/)?(?P<export>[^/]+)/metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/"
    r"(?P=export)-Manifest\.json",
    re.ASCII | re.DOTALL,
)


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

    @property
    def data_keys(self) -> tuple[str, ...]:
        """The landing-zone keys of the data files: each file the manifest lists, found beside the manifest.

        A manifest names its files in the bucket AWS wrote them to. Where the landing zone is that bucket
        (the usual case) the keys are the manifest's own; where it is a replica (a partner's bucket that
        the payers' buckets replicate into, under any prefix) the files lie in the same folders relative to
        the report, so each key is rebased onto the folder of the manifest found in the landing zone."""
        layout = _layout(self.manifest_key)
        return tuple(_landing_key(layout, ids.s3_uri(uri, "data_uris entry")[1]) for uri in self.data_uris)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["billing_period"] = self.billing_period.isoformat()
        data["data_uris"] = list(self.data_uris)
        data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        """The inverse of to_dict, checked with the rules of parse_manifest (XCom is an input too)."""
        if not isinstance(data, dict):
            raise ManifestError(f"a delivery must be an object, not {described(data)}")
        key = data.get("manifest_key")
        try:
            return _delivery_from_dict(data)
        except IdentifierError as exc:
            raise ManifestError(f"{key if isinstance(key, str) else shown(key)}: {exc}") from exc


@dataclass(frozen=True)
class ManifestLayout:
    """What the key of a manifest says about its delivery."""

    source_format: SourceFormat
    report_name: str  # legacy report name / CUR 2.0 export name
    billing_period: date
    billing_period_end: date  # the first day of the next month
    data_prefix: str  # every data file of the delivery lies under this folder (ends with '/')
    # the end of data_prefix that is the same wherever the report is written (replicas may differ before it):
    # '<report>/' of a legacy report, '<export>/data/BILLING_PERIOD=<YYYY-MM>/' of a CUR 2.0 export
    report_folder: str = ""


def manifest_format(key: str) -> SourceFormat | None:
    """Which layout a landing-zone key is the manifest of, or None when it is not a manifest."""
    if CUR2_MANIFEST.fullmatch(key):
        return "cur2"
    if LEGACY_MANIFEST.fullmatch(key):
        return "legacy"
    return None


def manifest_report(key: str) -> str | None:
    """The report (legacy) or export (CUR 2.0) folder a manifest key names, unchecked; None for other keys."""
    match = CUR2_MANIFEST.fullmatch(key)
    if match:
        return match["export"]
    match = LEGACY_MANIFEST.fullmatch(key)
    return match["report"] if match else None


def manifest_layout(key: str) -> ManifestLayout:
    """The checked layout of a manifest key; ManifestError when the key or a folder in it breaks a rule."""
    try:
        return _layout(key)
    except IdentifierError as exc:
        raise ManifestError(f"{key}: {exc}") from exc


def parse_manifest(key: str, raw: bytes | str) -> Delivery:
    """The delivery a manifest describes. Raises ManifestError, and only ManifestError, for any bytes."""
    layout = manifest_layout(key)
    body = _json_object(key, raw)
    try:
        if layout.source_format == "legacy":
            return _parse_legacy(key, layout, body)
        return _parse_cur2(key, layout, body)
    except IdentifierError as exc:
        raise ManifestError(f"{key}: {exc}") from exc


def _layout(key: object) -> ManifestLayout:
    key = ids.object_key(key, "manifest key")
    match = CUR2_MANIFEST.fullmatch(key)
    if match:
        export = ids.report_name(match["export"], "export folder")
        start = ids.billing_month(match["period"], "BILLING_PERIOD")
        report_folder = f"{export}/data/BILLING_PERIOD={match['period']}/"
        data_prefix = f"{key[: match.start('export')]}{report_folder}"
        return ManifestLayout("cur2", export, start, ids.next_month(start), data_prefix, report_folder)
    match = LEGACY_MANIFEST.fullmatch(key)
    if match:
        report = ids.report_name(match["report"], "report folder")
        start, end = ids.billing_folder(match["folder"], "billing period folder")
        # the report's folder holds the <yyyymmdd-yyyymmdd> folders and the data files of every layout
        return ManifestLayout("legacy", report, start, end, f"{key[: match.end('report')]}/", f"{report}/")
    raise IdentifierError("not a CUR manifest path")


def _json_object(key: str, raw: bytes | str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise ManifestError(f"{key}: manifest is not UTF-8 text (byte {exc.start} is {byte:#04x})") from exc
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{key}: manifest is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (ValueError, RecursionError) as exc:  # numbers too long to convert, nesting too deep
        raise ManifestError(f"{key}: manifest is not valid JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(body, dict):
        raise ManifestError(f"{key}: manifest must be a JSON object, not {type_name(body)}")
    return body


def _required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or value == "" or value == []:
        raise IdentifierError(f"manifest has no {name!r}")
    return value


def _string_list(body: dict[str, Any], name: str) -> list[str]:
    value = _required(body, name)
    if not isinstance(value, list):
        raise IdentifierError(f"{name!r} must be an array of strings, not {described(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise IdentifierError(f"{name} entry {index} must be a string, not {described(item)}")
    return value


def _column_names(body: dict[str, Any]) -> tuple[str, ...]:
    columns = body.get("columns")
    if columns is None:
        return ()
    if not isinstance(columns, list):
        raise IdentifierError(f"'columns' must be an array of objects, not {described(columns)}")
    names = []
    for index, column in enumerate(columns):
        name = column.get("name") if isinstance(column, dict) else None
        if not isinstance(name, str) or not name:
            raise IdentifierError(f"columns entry {index} is not an object with a string 'name': {shown(column)}")
        names.append(name)
    return tuple(names)


def _source_prefix(layout: ManifestLayout, key: str) -> str | None:
    """The folders before the report's folder in a data key as the manifest writes it: the manifest's own
    (the key lies under data_prefix), else those before the first report folder in it; None without one."""
    if key.startswith(layout.data_prefix):
        return layout.data_prefix[: -len(layout.report_folder)]
    at = key.find(layout.report_folder)
    while at > 0 and key[at - 1] != "/":
        at = key.find(layout.report_folder, at + 1)
    return None if at < 0 else key[:at]


def _landing_key(layout: ManifestLayout, key: str) -> str:
    """Where the data file `key` (as the manifest names it) lies in the landing zone: under data_prefix."""
    prefix = _source_prefix(layout, key)
    if prefix is None:
        raise IdentifierError(f"{shown(key)} lies outside the delivery's folder {layout.data_prefix}")
    return layout.data_prefix + key[len(prefix) + len(layout.report_folder) :]


def _data_keys(layout: ManifestLayout, keys: list[str], what: str) -> list[str]:
    """The delivery's data file keys, each checked: in the delivery's own folder (the report's folder, after
    one prefix shared by every key: the manifest's, or the one of the bucket it was replicated from), none
    twice."""
    seen: set[str] = set()
    prefixes: set[str] = set()
    for key in keys:
        ids.data_file_key(key, f"{what} entry")
        prefix = _source_prefix(layout, key)
        if prefix is None or (prefixes and prefix not in prefixes):
            raise IdentifierError(f"{what} entry {shown(key)} lies outside the delivery's folder {layout.data_prefix}")
        prefixes.add(prefix)
        if key in seen:  # read twice, its costs would count twice
            raise IdentifierError(f"{what} lists {shown(key)} more than once")
        seen.add(key)
    return keys


def _parse_legacy(key: str, layout: ManifestLayout, body: dict[str, Any]) -> Delivery:
    payer = ids.account_id(_required(body, "account"), "account")
    assembly_id = ids.manifest_id(_required(body, "assemblyId"), "assemblyId")
    name = body.get("reportName")
    if name is not None and ids.report_name(name, "reportName") != layout.report_name:
        raise IdentifierError(f"reportName {shown(name)} does not match the report folder {layout.report_name!r}")
    period = ids.legacy_billing_period(
        _required(body, "billingPeriod"), layout.billing_period, layout.billing_period_end
    )
    bucket = ids.bucket_name(_required(body, "bucket"), "bucket")
    data_keys = _data_keys(layout, _string_list(body, "reportKeys"), "reportKeys")
    return Delivery(
        payer_account_id=payer,
        billing_period=period,
        manifest_id=assembly_id,
        source_format="legacy",
        report_name=layout.report_name,
        manifest_key=key,
        data_uris=tuple(f"s3://{bucket}/{data_key}" for data_key in data_keys),
        columns=_column_names(body),
    )


def _arn_account(value: object) -> str:
    export_arn = ids.string_value(value, "exportArn")
    parts = export_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise IdentifierError(f"exportArn {shown(export_arn)} is not an ARN")
    return ids.account_id(parts[4], "account of exportArn")


def _parse_cur2(key: str, layout: ManifestLayout, body: dict[str, Any]) -> Delivery:
    payer = _arn_account(_required(body, "exportArn"))
    execution_id = ids.manifest_id(_required(body, "executionId"), "executionId")
    uris = _string_list(body, "dataFiles")
    _data_keys(layout, [ids.s3_uri(uri, "dataFiles entry")[1] for uri in uris], "dataFiles")
    return Delivery(
        payer_account_id=payer,
        billing_period=layout.billing_period,
        manifest_id=execution_id,
        source_format="cur2",
        report_name=layout.report_name,
        manifest_key=key,
        data_uris=tuple(uris),
        columns=_column_names(body),
    )


def _delivery_from_dict(data: dict[str, Any]) -> Delivery:
    layout = _layout(data.get("manifest_key"))
    if data.get("source_format") != layout.source_format:
        raise IdentifierError(
            f"source_format {shown(data.get('source_format'))} is not the layout of the manifest key "
            f"({layout.source_format})"
        )
    if ids.report_name(data.get("report_name"), "report_name") != layout.report_name:
        raise IdentifierError(f"report_name {shown(data.get('report_name'))} is not the manifest key's report")
    if data.get("billing_period") != layout.billing_period.isoformat():
        raise IdentifierError(
            f"billing_period {shown(data.get('billing_period'))} is not the manifest key's period "
            f"({layout.billing_period.isoformat()})"
        )
    uris = _string_list(data, "data_uris")
    _data_keys(layout, [ids.s3_uri(uri, "data_uris entry")[1] for uri in uris], "data_uris")
    columns = data.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(column, str) for column in columns):
        raise IdentifierError(f"columns must be an array of strings: {shown(columns)}")
    return Delivery(
        payer_account_id=ids.account_id(data.get("payer_account_id"), "payer_account_id"),
        billing_period=layout.billing_period,
        manifest_id=ids.manifest_id(data.get("manifest_id"), "manifest_id"),
        source_format=layout.source_format,
        report_name=layout.report_name,
        manifest_key=data["manifest_key"],
        data_uris=tuple(uris),
        columns=tuple(columns),
    )
