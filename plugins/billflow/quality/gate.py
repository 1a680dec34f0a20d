"""The staging gate: a candidate staged partition is checked before it may replace the staged partition.

In this order, every failure named with the payer, the period and the failing check:

1. What the staging step's raw inspection found in the raw CUR files (billflow.staging.raw_checks:
   duplicate line items, currencies, negative usage, missing or null money, row counts; each finding
   names its file), that the inspection is of this partition, and the line item types of the raw files
   that the seed dbt_project/seeds/line_item_types.csv does not list (billflow.formats.line_item_types).
2. Two input contracts, on schemas alone (the staged file's Parquet footer): every staged column present
   has the Arrow type of STAGED_SCHEMA (billflow.staging.columns; money decimal128(38, 10), never
   float), and the raw totals have their four columns, counts as integers and money as decimals.
3. The expectation suite ``expectations/staged_cur_daily.json`` on the candidate's rows. Its column set
   is the suite parameter ``staged_columns``, which the gate fills with STAGED_SCHEMA's names: the
   staged columns are written down once.
4. The expectation suite ``expectations/staged_reconciliation.json`` on one row per scope and line item
   type: the candidate's totals (summed by DuckDB from its Parquet file) against the totals the raw
   inspection computed straight from the raw CUR files, in exact Decimal arithmetic. With tag costs, each
   configured tag key is a scope of its own (its rows must carry every raw line once), validated in the
   same run; a tag key in the tag costs that is not configured fails.

Great Expectations runs as its documentation describes: a data context whose validation results store
is a folder, ``$BILLFLOW_HOME/gx/validations/`` (one JSON document per suite and run, under the suite's
name and the run ``<payer>-<YYYY-MM>``; a person reads there what a gate saw), and, per suite, a
validation definition and a checkpoint that runs it. The staged rows are validated set-based through a
GX SQL data source: a query asset ``read_parquet(<candidate file>)`` on an in-memory DuckDB reached with
the duckdb-engine SQLAlchemy dialect (billflow.quality.gx_duckdb says what GX needs for that). Nothing
loads the partition into pandas; only the reconciliation's few rows are a pandas frame. Everything else
of the context (suites, definitions) lives in memory: parallel gates share no file but their results'.

Great Expectations (and pandas, SQLAlchemy) are imported only inside the functions that validate: the
GX import costs ~6 s and Airflow parses DAG files that import this package. Nothing is half-checked: a
suite that does not load completely raises SuiteDefinitionError, a check that cannot run counts as
failed, and a reconciliation that cannot be built is a failure.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from billflow.quality import messages
from billflow.quality.reconciliation import (
    RECONCILIATION_COLUMNS,
    reconciliation_rows,
    staged_totals,
    tag_key_scope,
    tag_key_totals,
)
from billflow.staging.columns import STAGED_SCHEMA

if TYPE_CHECKING:
    import pyarrow as pa

    from billflow.staging.raw_checks import RawChecks

log = logging.getLogger(__name__)

STAGED_SUITE_FILE = "staged_cur_daily.json"
RECONCILIATION_SUITE_FILE = "staged_reconciliation.json"

# The raw totals written beside a staged version (billflow.staging.raw_checks), as kinds of Arrow types.
RAW_TOTALS_COLUMN_KINDS: dict[str, str] = {
    "line_item_type": "string",
    "raw_row_count": "integer",
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
    results_dir: Path | None = None  # where GX kept the validation results of this gate

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
    candidate: pa.Table | str | Path,
    raw_totals: pa.Table,
    *,
    raw_checks: RawChecks,
    payer_account_id: str,
    billing_period: dt.date,
    tag_costs: pa.Table | str | Path | None = None,
    tag_keys: tuple[str, ...] = (),
    known_line_item_types: frozenset[str] | None = None,
    results_dir: Path | None = None,
) -> GateResult:
    """The raw checks' findings, the line item types, the input contracts, then both suites on a
    candidate staged partition; never raises for bad data (see enforce_gate).

    `candidate` and `tag_costs` are the staged Parquet files (local paths), or Arrow tables, which the
    gate writes to a scratch Parquet file first. `raw_checks` is what the staging step's raw inspection
    found (billflow.staging.stage.read_raw_checks); every finding fails the gate. `known_line_item_types`
    defaults to the seed's list (billflow.formats.line_item_types.known_line_item_types). With
    `tag_costs` (the candidate's cost by allocation tag), the reconciliation suite also runs once per
    configured tag key: each key must carry every raw line once, so its totals equal the raw totals.
    GX keeps its validation results under `results_dir` (default $BILLFLOW_HOME/gx)."""
    _check_partition(payer_account_id, billing_period)
    started = time.perf_counter()
    failures, checks = _raw_check_failures(raw_checks, payer_account_id, billing_period, known_line_item_types)
    staged_suite = load_suite_definition(STAGED_SUITE_FILE)
    reconciliation_suite = load_suite_definition(RECONCILIATION_SUITE_FILE)
    results_dir = results_dir or _default_results_dir()

    with tempfile.TemporaryDirectory(prefix="billflow-gate-") as scratch:
        staged_file = _parquet_file(candidate, Path(scratch) / "staged.parquet")
        tags_file = None if tag_costs is None else _parquet_file(tag_costs, Path(scratch) / "tags.parquet")
        staged_schema, staged_rows = _parquet_schema_and_rows(staged_file)

        staged_type_errors = _staged_type_errors(staged_schema)
        raw_type_errors = _raw_totals_type_errors(raw_totals)
        failures += list(staged_type_errors.values()) + list(raw_type_errors.values())
        checks += 2

        gx_run = _GateCheckpoints(results_dir, payer_account_id, billing_period)
        parameters = _suite_parameters(payer_account_id, billing_period)
        runs = [gx_run.validate_staged_rows(staged_suite, staged_file, parameters)]
        failures += runs[0].failures

        blocking = _reconciliation_blockers(staged_schema, staged_type_errors, raw_type_errors)
        if blocking:
            failures.append("reconciliation not run: " + "; ".join(blocking))
        else:
            reconciled, reconciliation_failures = _reconcile(
                gx_run, reconciliation_suite, staged_file, raw_totals, tags_file, tag_keys
            )
            runs += reconciled
            failures += reconciliation_failures
            if tags_file is not None:
                checks += 1  # the tag keys found are the configured ones

    suites = tuple(run.stats for run in runs)
    result = GateResult(
        passed=not failures,
        failures=failures,
        checks=checks + sum(suite.evaluated for suite in suites),
        payer_account_id=payer_account_id,
        billing_period=billing_period,
        staged_rows=staged_rows,
        suites=suites,
        seconds=time.perf_counter() - started,
        results_dir=results_dir,
    )
    _log_result(result)
    return result


def enforce_gate(*args: Any, **kwargs: Any) -> GateResult:
    """check_staged_partition (the same arguments), raising GateFailed unless every check passed."""
    result = check_staged_partition(*args, **kwargs)
    if not result.passed:
        raise GateFailed(result)
    return result


def _check_partition(payer_account_id: str, billing_period: dt.date) -> None:
    if not payer_account_id:
        raise ValueError("payer_account_id is required")
    if not isinstance(billing_period, dt.date) or isinstance(billing_period, dt.datetime):
        raise TypeError(f"billing_period must be a datetime.date, got {billing_period!r}")
    if billing_period.day != 1:
        raise ValueError(f"billing_period must be the first day of the month, got {billing_period}")


def _default_results_dir() -> Path:
    from billflow.config import load_settings

    return load_settings().home / "gx"


def _log_result(result: GateResult) -> None:
    if result.passed:
        log.info("%s (%.2f s; GX results in %s)", result.summary(), result.seconds, result.results_dir)
    else:
        log.error(
            "%s (GX results in %s):\n%s",
            result.summary(),
            result.results_dir,
            "\n".join(f"  - {failure}" for failure in result.failures),
        )


# ---------------------------------------------------------------- raw checks


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


# ---------------------------------------------------------------- input contracts


def _staged_type_errors(schema: pa.Schema) -> dict[str, str]:
    """Column name -> problem, for staged columns whose Arrow type is not STAGED_SCHEMA's.

    Strings, dates and integers may come in another width (large_string, date64, int32); money must be
    exactly decimal128(38, 10). A missing or unexpected column is the suite's column-set check."""
    errors: dict[str, str] = {}
    for expected in STAGED_SCHEMA:
        if expected.name in schema.names:
            actual = schema.field(expected.name).type
            if _type_kind(actual) != _type_kind(expected.type):
                errors[expected.name] = f"staged column {expected.name} has type {actual}, expected {expected.type}"
    return errors


def _raw_totals_type_errors(raw_totals: pa.Table) -> dict[str, str]:
    """Column name -> problem, for raw totals columns missing or not of their kind."""
    errors: dict[str, str] = {}
    for name, kind in RAW_TOTALS_COLUMN_KINDS.items():
        if name not in raw_totals.schema.names:
            errors[name] = f"raw totals column {name} is missing"
        elif _type_kind(raw_totals.schema.field(name).type, any_decimal=True) != kind:
            errors[name] = f"raw totals column {name} has type {raw_totals.schema.field(name).type}, expected {kind}"
    return errors


def _type_kind(arrow_type: pa.DataType, *, any_decimal: bool = False) -> Any:
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "string"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if any_decimal and pa.types.is_decimal(arrow_type):
        return "decimal"
    return arrow_type


def _reconciliation_blockers(
    staged_schema: pa.Schema, staged_type_errors: dict[str, str], raw_type_errors: dict[str, str]
) -> list[str]:
    """Why the reconciliation cannot be built: reconciled staged columns missing or mistyped, raw totals unusable."""
    blocking = [
        f"staged column {name} is missing" for name in _RECONCILED_STAGED_COLUMNS if name not in staged_schema.names
    ]
    blocking += [staged_type_errors[name] for name in _RECONCILED_STAGED_COLUMNS if name in staged_type_errors]
    return blocking + list(raw_type_errors.values())


# ---------------------------------------------------------------- staged files


def _parquet_file(data: pa.Table | str | Path, scratch: Path) -> str:
    """The Parquet file of staged data: the path given, or the table written to `scratch`."""
    if isinstance(data, str | Path):
        return str(data)
    import pyarrow.parquet as pq

    pq.write_table(data, scratch)
    return str(scratch)


def _parquet_schema_and_rows(path: str) -> tuple[pa.Schema, int]:
    """From the footer alone."""
    import pyarrow.parquet as pq

    metadata = pq.read_metadata(path)
    return metadata.schema.to_arrow_schema(), metadata.num_rows


def _staged_query(path: str) -> str:
    from billflow.engines.sql import quote_literal

    # hive_partitioning off: the staged keys' payer=/period= folders are not columns of the partition
    return f"select * from read_parquet({quote_literal(path)}, hive_partitioning = false)"


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


def _suite_parameters(payer_account_id: str, billing_period: dt.date) -> dict[str, Any]:
    """The staged suite's parameters: the partition's payer and month, and STAGED_SCHEMA's columns."""
    last_day = billing_period.replace(day=calendar.monthrange(billing_period.year, billing_period.month)[1])
    return {
        "allowed_billing_periods": [billing_period],
        "allowed_payer_account_ids": [payer_account_id],
        "billing_period_first_day": billing_period,
        "billing_period_last_day": last_day,
        "staged_columns": list(STAGED_SCHEMA.names),
    }


def _build_suite(definition: dict[str, Any], parameters: dict[str, Any]) -> Any:
    import great_expectations as gx

    from billflow.quality import gx_duckdb  # noqa: F401 - registers the expectation types the suites use

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


# ---------------------------------------------------------------- validation through GX checkpoints


@dataclass(frozen=True)
class _SuiteRun:
    stats: SuiteStats
    failures: list[str]


_RUN_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def _run_name(payer_account_id: str, billing_period: dt.date) -> str:
    """The run's name in the results store: <payer>-<YYYY-MM>, safe as a folder name."""
    return _RUN_NAME_UNSAFE.sub("_", f"{payer_account_id}-{billing_period:%Y-%m}")


def _gate_context(results_dir: Path) -> Any:
    """An ephemeral GX data context whose validation results store is the folder results_dir/validations."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    defaults.stores[defaults.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(results_dir / "validations"),
        },
    }
    project_config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=defaults,
    )
    return gx.get_context(mode="ephemeral", project_config=project_config)


class _GateCheckpoints:
    """One gate's GX data context: a data source per kind of data, and per suite a validation definition
    and a checkpoint whose runs the context's results store keeps."""

    def __init__(self, results_dir: Path, payer_account_id: str, billing_period: dt.date) -> None:
        self.context = _gate_context(results_dir)
        self.payer_account_id, self.billing_period = payer_account_id, billing_period

    def validate_staged_rows(
        self, definition: dict[str, Any], staged_file: str, parameters: dict[str, Any]
    ) -> _SuiteRun:
        """The staged rows suite, set-based in DuckDB on the candidate's Parquet file."""
        from billflow.quality import gx_duckdb

        source = self.context.data_sources.add_sql(
            name="billflow_staged", connection_string=gx_duckdb.CONNECTION_STRING
        )
        asset = source.add_query_asset(name="staged_partition", query=_staged_query(staged_file))
        checkpoint = self._checkpoint(
            _build_suite(definition, parameters),
            asset.add_batch_definition_whole_table(name="staged_partition"),
            "SUMMARY",
        )
        return self._run(checkpoint, messages.row_suite_messages, expectation_parameters=parameters)

    def reconcile(self, definition: dict[str, Any], rows: list[dict]) -> _SuiteRun:
        """The reconciliation suite on its rows (billflow.quality.reconciliation): of every scope at once."""
        batch_definition = (
            self.context.data_sources.add_pandas(name="billflow_reconciliation")
            .add_dataframe_asset(name="reconciliation")
            .add_batch_definition_whole_dataframe(name="reconciliation")
        )
        checkpoint = self._checkpoint(_build_suite(definition, {}), batch_definition, "COMPLETE")
        return self._run(
            checkpoint,
            lambda result: messages.reconciliation_messages(result, rows),
            batch_parameters={"dataframe": _reconciliation_frame(rows)},
        )

    def _checkpoint(self, suite: Any, batch_definition: Any, result_format: str) -> Any:
        import great_expectations as gx

        suite = self.context.suites.add(suite)
        validation = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=suite)
        )
        return self.context.checkpoints.add(
            gx.Checkpoint(
                name=f"billflow_gate_{suite.name}", validation_definitions=[validation], result_format=result_format
            )
        )

    def _run(
        self,
        checkpoint: Any,
        explain: Callable[[Any], list[str]],
        *,
        batch_parameters: dict[str, Any] | None = None,
        expectation_parameters: dict[str, Any] | None = None,
    ) -> _SuiteRun:
        from great_expectations.core.run_identifier import RunIdentifier

        started = time.perf_counter()
        (suite,) = [definition.suite for definition in checkpoint.validation_definitions]
        outcome = checkpoint.run(
            batch_parameters=batch_parameters,
            expectation_parameters=expectation_parameters,
            run_id=RunIdentifier(
                run_name=_run_name(self.payer_account_id, self.billing_period),
                run_time=dt.datetime.now(dt.UTC),
            ),
        )
        (validation,) = outcome.run_results.values()
        results = sorted(validation.results, key=lambda result: result.expectation_config.meta[_POSITION])
        if len(results) != len(suite.expectations):
            raise SuiteDefinitionError(
                f"suite {suite.name}: {len(results)} results for {len(suite.expectations)} expectations"
            )
        failed = [result for result in results if messages.is_failed(result)]
        failures = [message for result in failed for message in explain(result)]
        if failed and not failures:  # never report a failed suite without words
            failures.append(f"suite {suite.name}: {len(failed)} checks failed")
        stats = SuiteStats(suite.name, len(results), len(failed), time.perf_counter() - started)
        return _SuiteRun(stats, failures)


def _reconcile(
    gx_run: _GateCheckpoints,
    suite: dict[str, Any],
    staged_file: str,
    raw_totals: pa.Table,
    tags_file: str | None,
    tag_keys: tuple[str, ...],
) -> tuple[list[_SuiteRun], list[str]]:
    """One validation of the reconciliation rows of the staged rows and, with a cost by tag file, of each
    configured tag key (each key must carry every raw line once, so its totals equal the raw totals); a
    failure per tag key in the tag costs that is not configured."""
    rows: list[dict] = []
    failures: list[str] = []
    reconciled = False
    totals, problem = _totalled("staged rows", lambda: staged_totals(staged_file))
    if problem is None:
        rows += reconciliation_rows(totals, raw_totals)
        reconciled = True
    else:
        failures.append(problem)
    if tags_file is not None:
        by_key, problem = _totalled("cost by tag", lambda: tag_key_totals(tags_file))
        if problem is None:
            failures += [
                f"tag key {key!r} is in the tag costs but not configured"
                for key in sorted(set(by_key) - set(tag_keys), key=str)
            ]
            for key in tag_keys:
                rows += reconciliation_rows(by_key.get(key, {}), raw_totals, tag_key_scope(key))
            reconciled = True
        else:
            failures.append(problem)
    if not reconciled:
        return [], failures
    run = gx_run.reconcile(suite, rows)
    return [run], failures + run.failures


def _totalled(what: str, total: Callable[[], Any]) -> tuple[Any, str | None]:
    """What `total` returns, or None and the failure when it cannot be totalled (e.g. a sum too large
    for DuckDB's decimals): never pass what could not be compared."""
    try:
        return total(), None
    except Exception as error:
        return None, f"reconciliation not run: cannot total the {what}: {error}"


def _reconciliation_frame(rows: list[dict]) -> Any:
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=list(RECONCILIATION_COLUMNS))
    return frame.astype(object)  # exact Python ints and Decimals; None for missing


__all__ = [
    "GateFailed",
    "GateResult",
    "SuiteDefinitionError",
    "SuiteStats",
    "check_staged_partition",
    "enforce_gate",
]
