"""The staging gate: a candidate staged partition is checked before it may replace the staged partition.

First what the staging step's raw inspection found in the raw CUR files (billflow.staging.raw_checks:
duplicate line items, currencies, negative usage, missing or null money, row counts; each finding names
its file) and the line item types of the raw files that the seed dbt_project/seeds/line_item_types.csv
does not list (billflow.formats.line_item_types). Then two Great Expectations suites, stored as JSON in
``expectations/`` (billflow.config.EXPECTATIONS_DIR):

- ``staged_cur_daily.json``: row-level checks of the candidate partition;
- ``staged_reconciliation.json``: per line item type, the candidate's totals against the totals the
  raw inspection computed straight from the raw CUR files, independently of the staging projection
  (exact Decimal arithmetic).

Great Expectations (and pandas) are imported only inside the functions that validate: the GX import
costs ~6 s and Airflow parses DAG files that import this package. Data reaches GX as pandas frames that
are mostly Arrow-backed (strings and decimal money are not copied and never become floats). Nothing is
half-checked: a suite that does not load completely raises SuiteDefinitionError, a check that cannot
run counts as failed, and a reconciliation that cannot be built is a failure.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from billflow.quality import messages
from billflow.quality.reconciliation import RECONCILIATION_COLUMNS, reconciliation_rows

if TYPE_CHECKING:
    import pyarrow as pa

    from billflow.staging.raw_checks import RawChecks

log = logging.getLogger(__name__)

STAGED_SUITE_FILE = "staged_cur_daily.json"
RECONCILIATION_SUITE_FILE = "staged_reconciliation.json"

# The staged schema of docs/ARCHITECTURE.md, as kinds of Arrow types.
_DATE, _STRING, _MONEY, _INTEGER = "date", "string", "decimal128(38, 10)", "integer"
STAGED_COLUMN_KINDS: dict[str, str] = {
    "billing_period": _DATE,
    "payer_account_id": _STRING,
    "usage_account_id": _STRING,
    "usage_date": _DATE,
    "line_item_type": _STRING,
    "product_code": _STRING,
    "usage_type": _STRING,
    "operation": _STRING,
    "region": _STRING,
    "currency_code": _STRING,
    "bill_type": _STRING,
    "invoice_id": _STRING,
    "commitment_arn": _STRING,
    "usage_amount": _MONEY,
    "unblended_cost": _MONEY,
    "amortized_cost": _MONEY,
    "public_on_demand_cost": _MONEY,
    "line_item_count": _INTEGER,
    "manifest_id": _STRING,
    "source_format": _STRING,
}
RAW_TOTALS_COLUMN_KINDS: dict[str, str] = {
    "line_item_type": _STRING,
    "raw_row_count": _INTEGER,
    "unblended_cost": "decimal",
    "amortized_cost": "decimal",
}
_POSITION = "billflow_position"
_RECONCILED_STAGED_COLUMNS = ("line_item_type", "unblended_cost", "amortized_cost", "line_item_count")


class SuiteDefinitionError(RuntimeError):
    """An expectation suite file is missing, unreadable or did not load completely (a bug, not bad data)."""


@dataclass(frozen=True)
class SuiteStats:
    name: str
    evaluated: int
    failed: int
    seconds: float


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: list[str]
    checks: int
    payer_account_id: str = ""
    billing_period: dt.date | None = None
    staged_rows: int = 0
    suites: tuple[SuiteStats, ...] = ()
    seconds: float = 0.0

    def summary(self) -> str:
        period = f"{self.billing_period:%Y-%m}" if self.billing_period else "?"
        where = f"payer {self.payer_account_id or '?'}, period {period}"
        if self.passed:
            return f"staging gate passed for {where}: {self.checks} checks, {self.staged_rows} staged rows"
        return f"staging gate failed for {where}: {len(self.failures)} failures in {self.checks} checks"


class GateFailed(Exception):
    """Raised by enforce_gate: the candidate partition must not be promoted."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        super().__init__(result)

    def __str__(self) -> str:
        lines = [self.result.summary() + ":"]
        lines += [f"  - {failure}" for failure in self.result.failures]
        return "\n".join(lines)


# ---------------------------------------------------------------- public API


def check_staged_partition(
    candidate: pa.Table,
    raw_totals: pa.Table,
    *,
    raw_checks: RawChecks,
    payer_account_id: str,
    billing_period: dt.date,
    tag_costs: pa.Table | None = None,
    tag_keys: tuple[str, ...] = (),
    known_line_item_types: frozenset[str] | None = None,
) -> GateResult:
    """The raw checks' findings, the line item types, then both suites on a candidate staged partition;
    never raises for bad data (see enforce_gate).

    `raw_checks` is what the staging step's raw inspection found (billflow.staging.stage.read_raw_checks);
    every finding fails the gate. `known_line_item_types` defaults to the seed's list
    (billflow.formats.line_item_types.known_line_item_types). With `tag_costs` (the candidate's cost by
    allocation tag), the reconciliation suite also runs once per configured tag key: each key must carry
    every raw line once, so its totals equal the raw totals."""
    if not payer_account_id:
        raise ValueError("payer_account_id is required")
    if not isinstance(billing_period, dt.date) or isinstance(billing_period, dt.datetime):
        raise TypeError(f"billing_period must be a datetime.date, got {billing_period!r}")
    if billing_period.day != 1:
        raise ValueError(f"billing_period must be the first day of the month, got {billing_period}")

    started = time.perf_counter()
    stats: list[SuiteStats] = []
    failures, checks = _raw_check_failures(raw_checks, payer_account_id, billing_period, known_line_item_types)

    # Input contracts checked in code: GX on pandas cannot see Arrow types (decimal vs float).
    staged_type_errors = _type_errors(candidate, STAGED_COLUMN_KINDS, "staged column")
    raw_type_errors = _type_errors(raw_totals, RAW_TOTALS_COLUMN_KINDS, "raw totals column", required=True)
    failures += list(staged_type_errors.values()) + list(raw_type_errors.values())
    checks += 2

    staged_suite = load_suite_definition(STAGED_SUITE_FILE)
    reconciliation_suite = load_suite_definition(RECONCILIATION_SUITE_FILE)

    last_day = billing_period.replace(day=calendar.monthrange(billing_period.year, billing_period.month)[1])
    parameters = {
        "allowed_billing_periods": [_date_parameter(billing_period)],
        "allowed_payer_account_ids": [payer_account_id],
        "billing_period_first_day": _date_parameter(billing_period),
        "billing_period_last_day": _date_parameter(last_day),
    }
    row_stats, row_failures = _validate(
        staged_suite, _to_pandas(candidate), parameters, "SUMMARY", messages.row_suite_messages
    )
    stats.append(row_stats)
    checks += row_stats.evaluated
    failures += row_failures

    blocking = [
        f"staged column {name} is missing" for name in _RECONCILED_STAGED_COLUMNS if name not in candidate.schema.names
    ]
    blocking += [staged_type_errors[name] for name in _RECONCILED_STAGED_COLUMNS if name in staged_type_errors]
    blocking += list(raw_type_errors.values())
    if blocking:
        failures.append("reconciliation not run: " + "; ".join(blocking))
    else:
        rows = reconciliation_rows(candidate, raw_totals)
        rec_stats, rec_failures = _validate(
            reconciliation_suite,
            _reconciliation_frame(rows),
            {},
            "COMPLETE",
            lambda result: messages.reconciliation_messages(result, rows),
        )
        stats.append(rec_stats)
        checks += rec_stats.evaluated
        failures += rec_failures
        if tag_costs is not None:
            tag_stats, tag_failures = _reconcile_tag_keys(tag_costs, tag_keys, raw_totals, reconciliation_suite)
            stats += tag_stats
            checks += sum(s.evaluated for s in tag_stats) + 1
            failures += tag_failures

    result = GateResult(
        passed=not failures,
        failures=failures,
        checks=checks,
        payer_account_id=payer_account_id,
        billing_period=billing_period,
        staged_rows=candidate.num_rows,
        suites=tuple(stats),
        seconds=time.perf_counter() - started,
    )
    if result.passed:
        log.info("%s (%.2f s)", result.summary(), result.seconds)
    else:
        log.error("%s:\n%s", result.summary(), "\n".join(f"  - {f}" for f in result.failures))
    return result


def _raw_check_failures(
    raw_checks: RawChecks, payer_account_id: str, billing_period: dt.date, known: frozenset[str] | None
) -> tuple[list[str], int]:
    """Messages of the raw inspection's findings and of unknown line item types, and the checks counted."""
    from billflow.staging.raw_checks import unknown_line_item_types

    if known is None:
        from billflow.formats.line_item_types import known_line_item_types

        known = known_line_item_types()
    failures: list[str] = []
    if (raw_checks.payer_account_id, raw_checks.billing_period) != (payer_account_id, billing_period):
        failures.append(
            f"the raw checks are of payer {raw_checks.payer_account_id}, period {raw_checks.billing_period:%Y-%m} "
            f"(manifest {raw_checks.manifest_key}), not of this partition"
        )
    failures += [finding.message for finding in raw_checks.findings]
    failures += [finding.message for finding in unknown_line_item_types(raw_checks, known)]
    return failures, len(raw_checks.checks) + 2


def _reconcile_tag_keys(
    tag_costs: pa.Table, tag_keys: tuple[str, ...], raw_totals: pa.Table, suite: dict[str, Any]
) -> tuple[list[SuiteStats], list[str]]:
    import pyarrow.compute as pc

    stats: list[SuiteStats] = []
    found = set(tag_costs.column("tag_key").to_pylist())
    failures = [
        f"tag key {key!r} is in the tag costs but not configured" for key in sorted(found - set(tag_keys), key=str)
    ]
    for key in tag_keys:
        rows = reconciliation_rows(tag_costs.filter(pc.equal(tag_costs["tag_key"], key)), raw_totals)
        key_stats, key_failures = _validate(
            suite,
            _reconciliation_frame(rows),
            {},
            "COMPLETE",
            lambda result, rows=rows: messages.reconciliation_messages(result, rows),
        )
        stats.append(
            SuiteStats(f"{key_stats.name} [tag {key}]", key_stats.evaluated, key_stats.failed, key_stats.seconds)
        )
        failures += [f"tag key {key}: {failure}" for failure in key_failures]
    return stats, failures


def enforce_gate(
    candidate: pa.Table,
    raw_totals: pa.Table,
    *,
    raw_checks: RawChecks,
    payer_account_id: str,
    billing_period: dt.date,
    tag_costs: pa.Table | None = None,
    tag_keys: tuple[str, ...] = (),
    known_line_item_types: frozenset[str] | None = None,
) -> GateResult:
    """check_staged_partition, raising GateFailed unless every check passed."""
    result = check_staged_partition(
        candidate,
        raw_totals,
        raw_checks=raw_checks,
        payer_account_id=payer_account_id,
        billing_period=billing_period,
        tag_costs=tag_costs,
        tag_keys=tag_keys,
        known_line_item_types=known_line_item_types,
    )
    if not result.passed:
        raise GateFailed(result)
    return result


# ---------------------------------------------------------------- suites


def load_suite_definition(file_name: str, directory: Path | None = None) -> dict[str, Any]:
    """The suite JSON as a dict (no GX import); raises SuiteDefinitionError when unusable."""
    from billflow import config

    path = (directory or config.EXPECTATIONS_DIR) / file_name
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SuiteDefinitionError(f"cannot read expectation suite {path}: {error}") from error
    if not isinstance(definition, dict) or not definition.get("expectations"):
        raise SuiteDefinitionError(f"expectation suite {path} has no expectations")
    definition["_path"] = str(path)
    return definition


def _build_suite(definition: dict[str, Any], parameters: dict[str, Any]) -> Any:
    import great_expectations as gx

    spec = {key: value for key, value in definition.items() if key != "_path"}
    # GX returns results in its own order: tag each expectation with its position in the file so
    # failures are reported in suite order.
    spec["expectations"] = [
        {**expectation, "meta": {**expectation.get("meta", {}), _POSITION: position}}
        for position, expectation in enumerate(spec["expectations"])
    ]
    suite = gx.ExpectationSuite(**spec)
    # GX logs and DROPS an expectation it cannot build (typo in a type or kwarg): refuse to run
    # a partial suite.
    if len(suite.expectations) != len(spec["expectations"]):
        raise SuiteDefinitionError(
            f"expectation suite {definition['_path']}: only {len(suite.expectations)} of "
            f"{len(spec['expectations'])} expectations are valid (see the GX log above)"
        )
    missing = set(suite.suite_parameter_options) - set(parameters)
    if missing:
        raise SuiteDefinitionError(
            f"expectation suite {definition['_path']} needs suite parameters the gate does not set: "
            + ", ".join(sorted(missing))
        )
    return suite


# ---------------------------------------------------------------- validation


def _validate(
    definition: dict[str, Any],
    frame: Any,
    parameters: dict[str, Any],
    result_format: str,
    explain: Callable[[Any], list[str]],
) -> tuple[SuiteStats, list[str]]:
    started = time.perf_counter()
    suite = _build_suite(definition, parameters)
    context = _ephemeral_context()
    with _no_frame_fingerprint():
        batch = (
            context.data_sources.add_pandas(name=f"billflow_{suite.name}")
            .add_dataframe_asset(name=suite.name)
            .add_batch_definition_whole_dataframe(name=suite.name)
            .get_batch(batch_parameters={"dataframe": frame})
        )
    with _no_frame_fingerprint():
        validation = batch.validate(suite, expectation_parameters=parameters, result_format=result_format)
    results = sorted(validation.results, key=lambda result: result.expectation_config.meta[_POSITION])
    if len(results) != len(suite.expectations):
        raise SuiteDefinitionError(
            f"suite {suite.name}: {len(results)} results for {len(suite.expectations)} expectations"
        )
    failures: list[str] = []
    failed = 0
    for result in results:
        if messages.is_failed(result):
            failed += 1
            failures += explain(result)
    if failed and not failures:  # never report a failed suite without words
        failures.append(f"suite {suite.name}: {failed} checks failed")
    return SuiteStats(suite.name, len(results), failed, time.perf_counter() - started), failures


@contextlib.contextmanager
def _no_frame_fingerprint() -> Iterator[None]:
    """Skip GX's md5 fingerprint of the whole frame (a batch marker we never use).

    GX hashes every pandas batch smaller than HASH_THRESHOLD bytes with pandas.util.hash_pandas_object,
    once when the batch is built and again inside validate: ~2.8 s per decimal column per pass on 1M
    rows, ~22 s of a 25 s validation. Larger frames are not hashed; this makes ours count as large.
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine

    saved = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = saved


def _ephemeral_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    project_config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    return gx.get_context(mode="ephemeral", project_config=project_config)


def _to_pandas(table: pa.Table) -> Any:
    """The frame GX validates: nothing becomes float, nulls stay nulls, dtypes GX handles vectorised.

    - dates -> datetime64[ns] (midnight): GX's between/in-set run vectorised on it (on Arrow dates
      GX calls a Python function per value: ~1.4 s per 1M rows); the gate's date parameters are
      passed as pandas Timestamps to match; datetime64[s] if a date is beyond 2262;
    - integers -> numpy int64 (vectorised in GX); Arrow-backed if the column has nulls (never float64);
    - everything else (strings, decimal128 money) stays Arrow-backed (pd.ArrowDtype): no copy, exact.
    """
    import pandas as pd
    import pyarrow as pa

    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_date(kind):
            try:
                columns[name] = column.cast(pa.timestamp("ns")).to_pandas()
            except pa.ArrowInvalid:  # a date beyond 2262: correct but slower (GX compares per value)
                columns[name] = column.cast(pa.timestamp("s")).to_pandas()
        elif pa.types.is_integer(kind) and column.null_count == 0:
            columns[name] = column.to_pandas()
        else:
            if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
                column = column.cast(pa.string())
            columns[name] = column.to_pandas(types_mapper=pd.ArrowDtype)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def _date_parameter(value: dt.date) -> Any:
    import pandas as pd

    return pd.Timestamp(value)


def _reconciliation_frame(rows: list[dict]) -> Any:
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=list(RECONCILIATION_COLUMNS))
    return frame.astype(object)  # exact Python ints and Decimals; None for missing


# ---------------------------------------------------------------- input contracts


def _type_errors(table: pa.Table, kinds: dict[str, str], what: str, *, required: bool = False) -> dict[str, str]:
    """Column name -> problem, for columns whose Arrow type breaks the contract."""
    import pyarrow as pa

    errors: dict[str, str] = {}
    schema = table.schema
    for name, kind in kinds.items():
        if name not in schema.names:
            if required:
                errors[name] = f"{what} {name} is missing"
            continue  # reported by the suite's column-set check
        actual = schema.field(name).type
        ok = {
            _DATE: pa.types.is_date(actual),
            _STRING: pa.types.is_string(actual) or pa.types.is_large_string(actual) or pa.types.is_string_view(actual),
            _MONEY: actual == pa.decimal128(38, 10),
            _INTEGER: pa.types.is_integer(actual),
            "decimal": pa.types.is_decimal(actual),
        }[kind]
        if not ok:
            errors[name] = f"{what} {name} has type {actual}, expected {kind}"
    return errors


__all__ = [
    "GateFailed",
    "GateResult",
    "SuiteDefinitionError",
    "SuiteStats",
    "check_staged_partition",
    "enforce_gate",
]
