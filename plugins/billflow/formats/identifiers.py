"""Strict checks of every value that comes from a manifest or an object key before it reaches a path or SQL.

Each check returns the value (typed) or raises IdentifierError with a message naming the value and the rule.
`what` names the value in that message (a manifest field, for instance).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# AWS account ids have 12 digits; some published test CURs (koku's) use 13
_ACCOUNT_ID = re.compile(r"\d{12,13}", re.ASCII)
_MANIFEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", re.ASCII)
_REPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}", re.ASCII)
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_MAX_KEY_BYTES = 1024
_SHOWN_CHARACTERS = 1100
# characters DuckDB's read_parquet expands as a glob: a data file key must name one file
_GLOB_CHARACTERS = frozenset("*?[]{}")
_BILLING_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_BILLING_FOLDER = re.compile(r"(\d{8})-(\d{8})", re.ASCII)
_AWS_TIMESTAMP = re.compile(r"(\d{8})T000000\.000Z", re.ASCII)


class IdentifierError(ValueError):
    """A value that must not reach a path or SQL: it breaks the rule its message names."""


def type_name(value: object) -> str:
    """The JSON name of a value's type (manifests are JSON)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names = {str: "string", list: "array", dict: "object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def shown(value: object) -> str:
    """A value as messages quote it: its repr, cut only when longer than any valid S3 key."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARACTERS else f"{text[: _SHOWN_CHARACTERS - 3]}..."


def described(value: object) -> str:
    """A value's JSON type and the value, for 'must be X, not ...' messages."""
    return "null" if value is None else f"{type_name(value)}: {shown(value)}"


def string_value(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise IdentifierError(f"{what} must be a string, not {described(value)}")
    return value


def account_id(value: object, what: str = "account id") -> str:
    text = string_value(value, what)
    if not _ACCOUNT_ID.fullmatch(text):
        raise IdentifierError(f"{what} {shown(value)} is not an AWS account id (12 digits)")
    return text


def manifest_id(value: object, what: str = "manifest id") -> str:
    """A legacy assemblyId or a CUR 2.0 executionId (UUIDs pass)."""
    text = string_value(value, what)
    if not _MANIFEST_ID.fullmatch(text):
        raise IdentifierError(
            f"{what} {shown(value)} is not a valid manifest id: 1 to 128 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return text


def report_name(value: object, what: str = "report name") -> str:
    """A legacy report name or a CUR 2.0 export name. AWS allows a few more characters in legacy names
    ("'()!*"); they are refused because report names reach paths and SQL."""
    text = string_value(value, what)
    if not _REPORT_NAME.fullmatch(text) or ".." in text:
        raise IdentifierError(
            f"{what} {shown(value)} is not accepted: a report name is 1 to 128 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit, without '..'; rename the report"
        )
    return text


def bucket_name(value: object, what: str = "bucket") -> str:
    """The naming rules of S3 general purpose buckets."""
    text = string_value(value, what)
    problem = _bucket_problem(text)
    if problem:
        raise IdentifierError(f"{what} {shown(value)} is not a valid S3 bucket name: {problem}")
    return text


def _bucket_problem(text: str) -> str | None:
    if not _BUCKET.fullmatch(text):
        return "it must be 3 to 63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
    if ".." in text:
        return "it has two adjacent periods"
    if _IP_ADDRESS.fullmatch(text):
        return "it is formatted as an IP address"
    if text.startswith(_BUCKET_PREFIXES):
        return f"it starts with a reserved prefix ({', '.join(_BUCKET_PREFIXES)})"
    if text.endswith(_BUCKET_SUFFIXES):
        return f"it ends with a reserved suffix ({', '.join(_BUCKET_SUFFIXES)})"
    return None


def object_key(value: object, what: str = "object key") -> str:
    """A '/'-separated key relative to a store's root that names the same object on every store."""
    text = string_value(value, what)
    problem = _key_problem(text)
    if problem:
        raise IdentifierError(f"{what} {shown(value)} is not a valid object key: {problem}")
    return text


def _key_problem(text: str) -> str | None:
    if not text:
        return "it is empty"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        return "it has a control character"
    if len(text.encode("utf-8")) > _MAX_KEY_BYTES:
        return f"it is longer than {_MAX_KEY_BYTES} bytes"
    if "\\" in text:
        return "it has a backslash"
    if text.startswith("/"):
        return "it is absolute (starts with '/')"
    segments = text.split("/")
    if ".." in segments:
        return "it has a '..' segment"
    if "." in segments:
        return "it has a '.' segment"
    if "" in segments:
        return "it has an empty segment ('//' or a trailing '/')"
    return None


def object_prefix(value: object, what: str = "prefix") -> str:
    """A folder of a store: a valid key, with or without one trailing '/' (returned without it).
    The empty prefix (the whole store) is refused: callers that mean the whole store say so explicitly."""
    text = string_value(value, what)
    folder = text.removesuffix("/")
    if not folder:
        raise IdentifierError(f"{what} {shown(value)} names the whole store: give a folder")
    problem = _key_problem(folder)
    if problem:
        raise IdentifierError(f"{what} {shown(value)} is not a valid folder: {problem}")
    return folder


def data_file_key(value: object, what: str = "data file key") -> str:
    """A valid key that names exactly one file (the query engine would expand glob characters)."""
    text = object_key(value, what)
    if _GLOB_CHARACTERS.intersection(text):
        raise IdentifierError(f"{what} {shown(value)} has a glob character ({''.join(sorted(_GLOB_CHARACTERS))})")
    return text


def s3_uri(value: object, what: str = "S3 URI") -> tuple[str, str]:
    """'s3://bucket/key' -> ('bucket', 'key'), both checked."""
    text = string_value(value, what)
    if not text.startswith("s3://"):
        raise IdentifierError(f"{what} {shown(value)} is not an s3:// URI")
    bucket, _, key = text.removeprefix("s3://").partition("/")
    return bucket_name(bucket, f"bucket of {what}"), object_key(key, f"key of {what}")


def billing_month(value: object, what: str = "billing period") -> date:
    """'2026-09' (CUR 2.0 BILLING_PERIOD=) -> date(2026, 9, 1)."""
    text = string_value(value, what)
    match = _BILLING_MONTH.fullmatch(text)
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise IdentifierError(f"{what} {shown(value)} is not a month like 2026-09")
    return date(int(match[1]), int(match[2]), 1)


def billing_folder(value: object, what: str = "billing period folder") -> tuple[date, date]:
    """'20260901-20261001' (the folder of a legacy manifest) -> (start, end): one whole calendar month."""
    text = string_value(value, what)
    match = _BILLING_FOLDER.fullmatch(text)
    start, end = (_yyyymmdd(match[1]), _yyyymmdd(match[2])) if match else (None, None)
    if start is None or end is None or start.day != 1 or end != next_month(start):
        raise IdentifierError(
            f"{what} {shown(value)} is not one calendar month like 20260901-20261001 (first day to first day)"
        )
    return start, end


def legacy_billing_period(value: object, folder_start: date, folder_end: date, what: str = "billingPeriod") -> date:
    """A legacy manifest's billingPeriod {start, end} ("20260901T000000.000Z"): the month of its folder."""
    if not isinstance(value, dict):
        raise IdentifierError(f"{what} must be an object with 'start' and 'end', not {described(value)}")
    folder = f"{folder_start:%Y%m%d}-{folder_end:%Y%m%d}"
    for name, expected in (("start", folder_start), ("end", folder_end)):
        raw = string_value(value.get(name), f"{what} {name}")
        match = _AWS_TIMESTAMP.fullmatch(raw)
        parsed = _yyyymmdd(match[1]) if match else None
        if parsed is None:
            raise IdentifierError(f"{what} {name} {shown(raw)} is not like 20250101T000000.000Z")
        if parsed != expected:
            raise IdentifierError(f"{what} {name} {parsed} does not match the folder {folder}")
    return folder_start


def _yyyymmdd(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def next_month(day: date) -> date:
    """The first day of the month after the one of `day`."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
