"""Raw inspection of one delivery, independent of the staging projection (typed_projection).

It runs in the staging step over the delivery's raw Parquet files, before anything is staged, and reads
them its own way so that a bug in the projection cannot hide itself:

- each file's footer (pyarrow, through QueryEngine.parquet_footer): its row count and its columns;
- one aggregate pass (sql/raw_inspection.sql) per file, line item type and currency: lines, unblended and
  amortized cost from the raw money columns cast straight to decimal(38, 10), and what the checks count;
- the duplicate check (sql/raw_duplicate_keys.sql, confirmed by sql/raw_duplicates.sql).

Its raw totals per line item type are what the gate reconciles the staged partition to. What it finds
either stops staging (StagingError: the projection could not read the files as they are) or is written
beside the staged version (raw_checks.json) and fails the gate (billflow.quality.gate):

- stops staging: unreadable_file, missing_column, inspection_failed, unreadable_value;
- fails the gate: row_count, missing_identity, duplicate_line_item, missing_currency, mixed_currency,
  unconvertible_currency, negative_usage, missing_money_column, null_money; the gate adds
  unknown_line_item_type from the line item types recorded here (the seed decides what is known).

Every message names the file(s) by their key in the landing zone.
"""

from __future__ import annotations

import decimal
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from string import Template
from typing import Any

import pyarrow as pa

from billflow.engines.query import RAW_FILE_COLUMN, ParquetFooter, QueryEngine
from billflow.engines.sql import quote_literal
from billflow.formats.manifest import Delivery
from billflow.staging.columns import (
    BLANK_IS_NULL,
    EVERY_LINE,
    FORMAT_SOURCES,
    IDENTITY_COLUMNS,
    MONEY,
    RAW_COLUMNS,
    REQUIRED_MONEY,
    REQUIRED_RAW,
    STAGED_MONEY,
    required_money,
)
from billflow.staging.stage import StagingError, fragment, load_sql
from billflow.storage.base import ObjectStore

LINE_ITEM_TYPES_SEED = "dbt_project/seeds/line_item_types.csv"

# The checks raw_checks.json reports on (each counts as one check of the gate).
CHECKS = (
    "parquet_footers",
    "required_columns",
    "readable_values",
    "row_counts",
    "identity_columns",
    "duplicate_line_items",
    "currency",
    "negative_usage",
    "required_money",
)

RAW_TOTALS_SCHEMA = pa.schema(
    [
        ("line_item_type", pa.string()),
        ("raw_row_count", pa.int64()),
        ("unblended_cost", STAGED_MONEY),
        ("amortized_cost", STAGED_MONEY),
    ]
)

_EXACT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation])
_EXAMPLES = 3
_TYPED = {name: sql_type for name, sql_type in RAW_COLUMNS.items() if sql_type in (MONEY, "timestamp")}


@dataclass(frozen=True)
class RawFinding:
    """Something in the raw files that must stop the delivery, in words, with its count and examples."""

    check: str
    message: str
    count: int
    examples: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RawFinding:
        return cls(
            check=_text(data["check"]),
            message=_text(data["message"]),
            count=_count(data["count"]),
            examples=tuple(_text(e) for e in data["examples"]),
            files=tuple(_text(f) for f in data["files"]),
        )


@dataclass(frozen=True)
class TypeLines:
    """How many raw lines of one file have one line item type."""

    file: str
    line_item_type: str | None
    lines: int


@dataclass(frozen=True)
class RawChecks:
    """What the raw inspection found in one delivery (raw_checks.json beside the staged version)."""

    payer_account_id: str
    billing_period: date
    manifest_id: str
    manifest_key: str
    files: tuple[tuple[str, int], ...]  # (key in the landing zone, rows counted by its Parquet footer)
    line_item_types: tuple[TypeLines, ...]
    findings: tuple[RawFinding, ...] = ()
    checks: tuple[str, ...] = field(default=CHECKS)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["billing_period"] = self.billing_period.isoformat()
        data["files"] = [{"file": key, "rows": rows} for key, rows in self.files]
        return json.dumps(data, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> RawChecks:
        """Raises ValueError when the document is not what to_json writes."""
        try:
            data = json.loads(raw)
            return cls(
                payer_account_id=_text(data["payer_account_id"]),
                billing_period=date.fromisoformat(_text(data["billing_period"])),
                manifest_id=_text(data["manifest_id"]),
                manifest_key=_text(data["manifest_key"]),
                files=tuple((_text(f["file"]), _count(f["rows"])) for f in data["files"]),
                line_item_types=tuple(
                    TypeLines(_text(t["file"]), _optional_text(t["line_item_type"]), _count(t["lines"]))
                    for t in data["line_item_types"]
                ),
                findings=tuple(RawFinding.from_dict(f) for f in data["findings"]),
                checks=tuple(_text(c) for c in data["checks"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
            raise ValueError(f"raw checks document is malformed: {error!r}") from error


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a count, got {value!r}")
    return value


@dataclass(frozen=True)
class RawInspection:
    totals: pa.Table  # RAW_TOTALS_SCHEMA: per line item type, straight from the raw files
    checks: RawChecks
    columns: frozenset[str] = frozenset()  # the columns of the delivery's files, from their footers

    @property
    def raw_rows(self) -> int:
        return sum(self.totals.column("raw_row_count").to_pylist())


# ---------------------------------------------------------------- words


def lines_word(count: int, what: str = "") -> str:
    """lines_word(1) -> '1 line', lines_word(2, 'Usage') -> '2 Usage lines'."""
    return f"{count} {what + ' ' if what else ''}line{'' if count == 1 else 's'}"


def files_word(keys: Sequence[str]) -> str:
    """'file a', 'files a, b', 'files a, b, c and 2 more'."""
    keys = list(keys)
    if len(keys) == 1:
        return f"file {keys[0]}"
    shown = ", ".join(keys[:_EXAMPLES])
    more = f" and {len(keys) - _EXAMPLES} more" if len(keys) > _EXAMPLES else ""
    return f"files {shown}{more}"


def quoted(value: str | None) -> str:
    return "null" if value is None else repr(value)


def _examples(examples: Sequence[str]) -> str:
    return f" (e.g. {', '.join(examples)})" if examples else ""


def _delivery_label(delivery: Delivery) -> str:
    return f"payer {delivery.payer_account_id}, period {delivery.period_label}, manifest {delivery.manifest_key}"


def staging_error(delivery: Delivery, findings: Iterable[RawFinding]) -> StagingError:
    lines = [f"cannot stage {_delivery_label(delivery)}:"]
    lines += [f"  - {finding.message}" for finding in findings]
    return StagingError("\n".join(lines))


def unknown_line_item_types(checks: RawChecks, known: frozenset[str]) -> list[RawFinding]:
    """One finding per file whose lines have line item types the seed does not list."""
    by_file: dict[str, Counter[str | None]] = defaultdict(Counter)
    for entry in checks.line_item_types:
        if entry.line_item_type not in known:
            by_file[entry.file][entry.line_item_type] += entry.lines
    findings = []
    for key, types in by_file.items():
        ordered = sorted(types.items(), key=lambda item: (item[0] is None, item[0] or ""))
        listed = ", ".join(f"{quoted(name)} ({lines_word(count)})" for name, count in ordered)
        plural = len(ordered) > 1
        findings.append(
            RawFinding(
                "unknown_line_item_type",
                f"file {key}: unknown line item type{'s' if plural else ''} {listed}: "
                f"declare {'them' if plural else 'it'} in {LINE_ITEM_TYPES_SEED}",
                sum(types.values()),
                tuple(quoted(name) for name, _ in ordered[:_EXAMPLES]),
                (key,),
            )
        )
    return findings


# ---------------------------------------------------------------- SQL


def _raw(column: str) -> str:
    return f"raw_file.{column}"


def render_inspection_sql(present: set[str], amortized_cost: str) -> tuple[str, dict[str, str]]:
    """raw_inspection.sql over RAW_DELIVERY, whose files have the `present` columns.

    Returns the SQL and, per count column it adds, what it counts: 'unreadable:<column>' (values that
    are not numbers or timestamps), 'null:<column>' (lines without a value), 'negative_usage'."""
    items = [f"{_raw(RAW_FILE_COLUMN)} as source_file"]
    for column in ("line_item_line_item_type", "line_item_currency_code"):
        items.append(f"cast({_raw(column)} as varchar) as {column}")
    for column, sql_type in RAW_COLUMNS.items():
        if sql_type == MONEY:
            value = f"try_cast({_raw(column)} as {MONEY})" if column in present else f"cast(null as {MONEY})"
            items.append(f"{value} as {column}")
    for column in sorted(BLANK_IS_NULL - {"bill_invoice_id"}):
        value = f"nullif(cast({_raw(column)} as varchar), '')" if column in present else "cast(null as varchar)"
        items.append(f"{value} as {column}")
    counts: dict[str, str] = {}
    expressions: list[str] = []

    def count(meaning: str, expression: str) -> None:
        name = f"count_{len(counts)}"
        counts[name] = meaning
        expressions.append(f"{expression} as {name}")

    raw_names: dict[str, str] = {}
    for column in sorted({c for columns in REQUIRED_MONEY.values() for c in columns} | set(_TYPED)):
        if column in present:
            raw_names[column] = f"raw_{len(raw_names)}"
            items.append(f"{_raw(column)} as {raw_names[column]}")
    for column, sql_type in _TYPED.items():
        if column in present:
            raw = raw_names[column]
            typed = column if sql_type == MONEY else f"try_cast({raw} as {sql_type})"
            count(f"unreadable:{column}", f"count({raw}) - count({typed})")
    for column in sorted({c for columns in REQUIRED_MONEY.values() for c in columns}):
        if column in present:
            count(f"null:{column}", f"count(*) - count({raw_names[column]})")
    if "line_item_usage_amount" in present:
        negative = _NEGATIVE_USAGE.replace("$type", "line_item_line_item_type").replace(
            "$usage", "line_item_usage_amount"
        )
        count("negative_usage", f"count(case when {negative} then 1 end)")
    sql = Template(load_sql("raw_inspection")).substitute(
        line_columns=",\n        ".join(items),
        amortized_cost=amortized_cost,
        counts=",\n    ".join(expressions) or "0 as no_counts",
    )
    return sql, counts


_NEGATIVE_USAGE = "$type = 'Usage' and $usage < 0"


def render_examples_sql(uri: str, condition: str, value: str, has_line_item_id: bool) -> str:
    return Template(load_sql("raw_examples")).substitute(
        file=quote_literal(uri),
        condition=condition,
        value=value,
        line_item_id="identity_line_item_id" if has_line_item_id else "cast(null as varchar)",
    )


# The duplicate check's grouping key: a hash of a line's identity (its collisions are told apart by
# raw_duplicates.sql)
KEY_HASH = f"hash({', '.join(IDENTITY_COLUMNS)})"


def render_duplicate_keys_sql(key_hash: str) -> str:
    """How many lines share a hash of their identity with another line."""
    return Template(load_sql("raw_duplicate_keys")).substitute(key_hash=key_hash)


def render_duplicates_sql(key_hash: str) -> str:
    return Template(load_sql("raw_duplicates")).substitute(key_hash=key_hash)


# ---------------------------------------------------------------- the inspection


def inspect_delivery(
    delivery: Delivery, landing: ObjectStore, engine: QueryEngine, *, rules_dir: Path
) -> RawInspection:
    """Read the delivery's raw files independently of the staging projection: raw totals per line item
    type and the raw checks' findings. Raises StagingError (naming the delivery, the file and the
    column) when the files cannot be staged as they are."""
    return _Inspection(delivery, landing, engine, rules_dir).run()


class _Inspection:
    def __init__(self, delivery: Delivery, landing: ObjectStore, engine: QueryEngine, rules_dir: Path) -> None:
        self.delivery, self.engine, self.rules_dir = delivery, engine, rules_dir
        keys = list(delivery.data_keys)
        self.uris = [landing.uri(key) for key in keys]
        self.key_of = dict(zip(self.uris, keys, strict=True))
        self.listed = Counter(self.uris)  # a file listed twice is read twice
        self.footers: dict[str, ParquetFooter] = {}
        self.findings: list[RawFinding] = []

    def key(self, uri: str) -> str:
        return self.key_of.get(uri, uri)

    def run(self) -> RawInspection:
        self._read_footers()
        self._check_required_columns()
        groups, counts = self._aggregate()
        self._check_readable_values(groups, counts)
        self._check_row_counts(groups)
        self._check_duplicates()
        self._check_currency(groups)
        self._check_negative_usage(groups, counts)
        self._check_required_money(groups, counts)
        type_lines: Counter[tuple[str, str | None]] = Counter()
        for row in groups:
            type_lines[(self.key(row["source_file"]), row["line_item_type"])] += row["line_count"]
        checks = RawChecks(
            payer_account_id=self.delivery.payer_account_id,
            billing_period=self.delivery.billing_period,
            manifest_id=self.delivery.manifest_id,
            manifest_key=self.delivery.manifest_key,
            files=tuple((self.key(uri), footer.num_rows) for uri, footer in self.footers.items()),
            line_item_types=tuple(
                TypeLines(key, name, count)
                for (key, name), count in sorted(type_lines.items(), key=lambda i: (i[0][0], i[0][1] or ""))
            ),
            findings=tuple(self.findings),
        )
        return RawInspection(_raw_totals(groups), checks, frozenset(self.present))

    def _stop(self, findings: list[RawFinding]) -> None:
        if findings:
            raise staging_error(self.delivery, findings)

    # -- what stops staging

    def _read_footers(self) -> None:
        unreadable = []
        for uri in self.listed:
            try:
                self.footers[uri] = self.engine.parquet_footer(uri)
            except Exception as error:
                key = self.key(uri)
                message = f"file {key}: not a readable Parquet file ({error})"
                unreadable.append(RawFinding("unreadable_file", message, 1, (), (key,)))
        self._stop(unreadable)

    def _check_required_columns(self) -> None:
        sources = FORMAT_SOURCES[self.delivery.source_format]
        missing_found = []
        for uri, footer in self.footers.items():
            missing = sorted(c for c in REQUIRED_RAW if c not in footer.columns and not sources.get(c))
            if missing:
                key = self.key(uri)
                word = "columns" if len(missing) > 1 else "column"
                message = f"file {key} lacks the required {word} {', '.join(missing)}"
                missing_found.append(RawFinding("missing_column", message, len(missing), tuple(missing), (key,)))
        self._stop(missing_found)

    @property
    def present(self) -> set[str]:
        return {column for footer in self.footers.values() for column in footer.columns}

    def _aggregate(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        sql, counts = render_inspection_sql(self.present, fragment("amortized_cost"))
        try:
            return self.engine.query(sql, self.uris).to_pylist(), counts
        except Exception as error:
            self._stop([self._locate_failure(error)])
            raise  # pragma: no cover (_stop raised)

    def _locate_failure(self, error: Exception) -> RawFinding:
        """The files the aggregate fails on, each read alone; every file, with the engine's words, when the
        failure is not one file's."""
        failing: dict[str, str] = {}
        for uri, footer in self.footers.items():
            sql, _ = render_inspection_sql(set(footer.columns), fragment("amortized_cost"))
            try:
                self.engine.query(sql, [uri])
            except Exception as file_error:
                failing[self.key(uri)] = f"{type(file_error).__name__}: {file_error}"
        if failing and len(failing) < len(self.footers):
            message = "; ".join(f"file {key} cannot be read ({why})" for key, why in failing.items())
            return RawFinding("inspection_failed", message, len(failing), (), tuple(failing))
        keys = [self.key(uri) for uri in self.footers]
        message = f"the raw inspection of {files_word(keys)} failed ({type(error).__name__}: {error})"
        return RawFinding("inspection_failed", message, len(keys), (), tuple(keys))

    def _examples(self, uri: str, condition: str, value: str) -> list[tuple[str | None, str | None]]:
        has_id = "identity_line_item_id" in self.present
        rows = self.engine.query(render_examples_sql(uri, condition, value, has_id), self.uris).to_pylist()
        return [(row["line_item_id"], row["value"]) for row in rows]

    def _check_readable_values(self, groups: list[dict[str, Any]], counts: dict[str, str]) -> None:
        unreadable = []
        for (uri, column), count in _counted(groups, counts, "unreadable:").items():
            key, kind = self.key(uri), "numbers" if _TYPED[column] == MONEY else "timestamps"
            condition = f"{column} is not null and try_cast({column} as {_TYPED[column]}) is null"
            values = [value for _, value in self._examples(uri, condition, column)]
            examples = tuple(dict.fromkeys(quoted(v) for v in values))[:_EXAMPLES]
            are = "is not a number" if kind == "numbers" else "is not a timestamp"
            verb = are if count == 1 else f"are not {kind}"
            message = f"file {key}: {count} value{'s' if count != 1 else ''} of {column} {verb}{_examples(examples)}"
            unreadable.append(RawFinding("unreadable_value", message, count, examples, (key,)))
        self._stop(unreadable)

    # -- what fails the gate

    def _check_row_counts(self, groups: list[dict[str, Any]]) -> None:
        read: Counter[str] = Counter()
        for row in groups:
            read[row["source_file"]] += row["line_count"]
        for uri, footer in self.footers.items():
            expected = footer.num_rows * self.listed[uri]
            if read[uri] != expected:
                key = self.key(uri)
                message = (
                    f"file {key}: its Parquet footer counts {expected} rows but the raw aggregate read {read[uri]}"
                )
                self.findings.append(RawFinding("row_count", message, abs(expected - read[uri]), (), (key,)))

    def _check_duplicates(self) -> None:
        lacking = []
        for uri, footer in self.footers.items():
            missing = [c for c in IDENTITY_COLUMNS if c not in footer.columns]
            if missing:
                key = self.key(uri)
                message = f"file {key} lacks {', '.join(missing)}: its duplicate line items cannot be found"
                lacking.append(RawFinding("missing_identity", message, len(missing), tuple(missing), (key,)))
        if lacking:
            self.findings += lacking
            return
        repeated = self.engine.query(render_duplicate_keys_sql(KEY_HASH), self.uris)
        if repeated.column("repeated_lines")[0].as_py() == 0:
            return
        rows = self.engine.query(render_duplicates_sql(KEY_HASH), self.uris).to_pylist()
        total = next(row for row in rows if row["kind"] == "total")
        if not total["pair_count"]:
            return  # only hash collisions
        keys = sorted(self.key(row["source_file"]) for row in rows if row["kind"] == "file")
        pairs = [row for row in rows if row["kind"] == "pair"]
        examples = tuple(
            f"{quoted(row['identity_line_item_id'])} {row['identity_time_interval'] or 'null'} "
            f"({lines_word(row['line_count'])})"
            for row in pairs
        )
        count = total["pair_count"]
        occur = "line item occurs" if count == 1 else "line items occur"
        message = (
            f"{count} {occur} more than once (same identity_line_item_id and identity_time_interval), "
            f"{lines_word(total['line_count'])} in all, in {files_word(keys)}{_examples(examples)}"
        )
        self.findings.append(RawFinding("duplicate_line_item", message, count, examples, tuple(keys)))

    def _check_currency(self, groups: list[dict[str, Any]]) -> None:
        lines: Counter[str | None] = Counter()
        files: dict[str | None, set[str]] = defaultdict(set)
        for row in groups:
            lines[row["currency_code"]] += row["line_count"]
            files[row["currency_code"]].add(self.key(row["source_file"]))
        if None in lines:
            keys = sorted(files.pop(None))
            count = lines.pop(None)
            message = f"{lines_word(count)} without a line_item_currency_code in {files_word(keys)}"
            self.findings.append(RawFinding("missing_currency", message, count, (), tuple(keys)))
        currencies = sorted(lines)  # type: ignore[type-var]
        if len(currencies) > 1:
            listed = ", ".join(
                f"{quoted(c)} ({lines_word(lines[c])} in {files_word(sorted(files[c]))})" for c in currencies
            )
            message = f"{len(currencies)} currencies in one delivery: {listed}"
            every = sorted({key for keys in files.values() for key in keys})
            examples = tuple(quoted(c) for c in currencies[:_EXAMPLES])
            self.findings.append(RawFinding("mixed_currency", message, len(currencies), examples, tuple(every)))
        if len(currencies) != 1:
            return
        from billflow.rules import unconvertible_invoice_currencies

        currency = currencies[0]
        keys = sorted(files[currency])
        period = self.delivery.period_label
        for invoice_currency, customers in unconvertible_invoice_currencies(
            self.rules_dir, currency, self.delivery.billing_period
        ).items():
            whose = f"customer{'s' if len(customers) > 1 else ''} {', '.join(customers)}"
            message = (
                f"the delivery's currency {currency} ({files_word(keys)}) cannot be converted to {invoice_currency}, "
                f"the invoice currency of {whose}: rules/fx_rates.csv has no {currency} -> {invoice_currency} rate "
                f"for {period} or an earlier month"
            )
            self.findings.append(
                RawFinding("unconvertible_currency", message, len(customers), (invoice_currency,), tuple(keys))
            )

    def _check_negative_usage(self, groups: list[dict[str, Any]], counts: dict[str, str]) -> None:
        for (uri, _), count in _counted(groups, counts, "negative_usage").items():
            key = self.key(uri)
            condition = _NEGATIVE_USAGE.replace("$type", "line_item_line_item_type").replace(
                "$usage", f"try_cast(line_item_usage_amount as {MONEY})"
            )
            found = self._examples(uri, condition, "line_item_usage_amount")
            examples = tuple(f"{quoted(line_id)} {value}" for line_id, value in found)
            message = (
                f"file {key}: {lines_word(count, 'Usage')} with a negative line_item_usage_amount{_examples(examples)}"
            )
            self.findings.append(RawFinding("negative_usage", message, count, examples, (key,)))

    def _check_required_money(self, groups: list[dict[str, Any]], counts: dict[str, str]) -> None:
        count_of = {meaning: name for name, meaning in counts.items()}
        # (file, scope, column) -> lines needing the column / lines where it is null; scope: type or EVERY_LINE
        needing: Counter[tuple[str, str, str]] = Counter()
        nulls: Counter[tuple[str, str, str]] = Counter()
        for row in groups:
            uri, line_type = row["source_file"], row["line_item_type"]
            for column in required_money(line_type):
                scope = EVERY_LINE if column in REQUIRED_MONEY[EVERY_LINE] else line_type
                needing[(uri, scope, column)] += row["line_count"]
                if column in self.footers[uri].columns:
                    nulls[(uri, scope, column)] += row[count_of[f"null:{column}"]]
        order = sorted(needing, key=lambda item: (self.key(item[0]), item[1] != EVERY_LINE, item[1], item[2]))
        for uri, scope, column in order:
            count, key = needing[(uri, scope, column)], self.key(uri)
            what = "" if scope == EVERY_LINE else scope
            if column not in self.footers[uri].columns:
                need = "needs" if count == 1 else "need"
                message = f"file {key} lacks {column}, which its {lines_word(count, what)} {need}"
                self.findings.append(RawFinding("missing_money_column", message, count, (column,), (key,)))
                continue
            null_count = nulls[(uri, scope, column)]
            if not null_count:
                continue
            condition = f"{column} is null"
            if scope != EVERY_LINE:
                condition += f" and line_item_line_item_type = {quote_literal(scope)}"
            found = self._examples(uri, condition, column)
            examples = tuple(quoted(line_id) for line_id, _ in found if line_id is not None)
            shown = f" (e.g. line items {', '.join(examples)})" if examples else ""
            message = f"file {key}: {lines_word(null_count, what)} with a null {column}{shown}"
            self.findings.append(RawFinding("null_money", message, null_count, examples, (key,)))


def _counted(groups: list[dict[str, Any]], counts: dict[str, str], prefix: str) -> dict[tuple[str, str], int]:
    """(file uri, what) -> lines counted, for the counts whose meaning starts with prefix; only those > 0."""
    found: Counter[tuple[str, str]] = Counter()
    for name, meaning in counts.items():
        if meaning.startswith(prefix):
            for row in groups:
                if row[name]:
                    found[(row["source_file"], meaning.removeprefix(prefix).lstrip(":"))] += row[name]
    return dict(sorted(found.items()))


def _raw_totals(groups: list[dict[str, Any]]) -> pa.Table:
    """Per line item type: lines and exact sums of the raw costs (a type whose costs are all null: null)."""
    totals: dict[str | None, list[Any]] = {}
    for row in groups:
        entry = totals.setdefault(row["line_item_type"], [0, None, None])
        entry[0] += row["line_count"]
        for index, column in ((1, "unblended_cost"), (2, "amortized_cost")):
            if row[column] is not None:
                entry[index] = row[column] if entry[index] is None else _EXACT.add(entry[index], row[column])
    ordered = sorted(totals.items(), key=lambda item: (item[0] is None, item[0] or ""))
    return pa.Table.from_pylist(
        [
            {"line_item_type": name, "raw_row_count": rows, "unblended_cost": unblended, "amortized_cost": amortized}
            for name, (rows, unblended, amortized) in ordered
        ],
        schema=RAW_TOTALS_SCHEMA,
    )
