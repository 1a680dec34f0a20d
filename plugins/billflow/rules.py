"""Rule sets: the partner's billing rules are the CSV seeds in the dbt project's rules/ folder.

The project ships rules/ as a link to the demo rule set (demo/rules, beside the demo data). A partner
replaces the link with its own folder; `project_with_rules` builds a project that runs another rule set
without touching the checkout (tests, trying a change): links to every entry of the
project, with rules/ pointing elsewhere. Set BILLFLOW_DBT_PROJECT_DIR to the result.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from billflow.config import DBT_PROJECT_DIR

RULE_SEEDS = (
    "customers",
    "account_assignments",
    "pricing_rules",
    "custom_line_items",
    "fx_rates",
    "allocation_tag_keys",
    "unassigned_cost_limits",
)
_PAYER_OR_ALL = re.compile(r"^(\d{12,13}|\*)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class RuleSetError(ValueError):
    """A rule-set file that cannot be used as it is."""


def unassigned_cost_limits(rules_dir: Path) -> dict[str, Decimal]:
    """payer account id (or '*', every payer) -> the largest unassigned cost a payer's month may carry and
    still be closed (rules/unassigned_cost_limits.csv; an absolute amortized cost in the CUR currency)."""
    path = rules_dir / "unassigned_cost_limits.csv"
    limits: dict[str, Decimal] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"payer_account_id", "max_unassigned_cost"} <= set(reader.fieldnames):
            raise RuleSetError(f"{path}: needs the columns payer_account_id, max_unassigned_cost")
        for line, row in enumerate(reader, start=2):
            payer = (row["payer_account_id"] or "").strip()
            if not _PAYER_OR_ALL.match(payer):
                raise RuleSetError(f"{path} line {line}: payer_account_id {payer!r} is not an account id or '*'")
            try:
                limit = Decimal((row["max_unassigned_cost"] or "").strip())
            except InvalidOperation:
                raise RuleSetError(
                    f"{path} line {line}: max_unassigned_cost {row['max_unassigned_cost']!r} is not a number"
                ) from None
            if not limit.is_finite() or limit < 0:
                raise RuleSetError(f"{path} line {line}: max_unassigned_cost must be a number >= 0")
            if payer in limits:
                raise RuleSetError(f"{path} line {line}: payer {payer} is listed twice")
            limits[payer] = limit
    return limits


def _rows(path: Path, needed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row with stripped values) of a rule-set CSV that has at least the `needed` columns."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not set(needed) <= set(reader.fieldnames):
            raise RuleSetError(f"{path}: needs the columns {', '.join(needed)}")
        for line, row in enumerate(reader, start=2):
            yield line, {name: (row[name] or "").strip() for name in needed}


def _currency(path: Path, line: int, column: str, value: str) -> str:
    if not _CURRENCY.match(value):
        raise RuleSetError(f"{path} line {line}: {column} {value!r} is not an ISO 4217 currency code")
    return value


def _month_start(path: Path, line: int, column: str, value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise RuleSetError(f"{path} line {line}: {column} {value!r} is not a date (YYYY-MM-DD)") from None
    if day.day != 1:
        raise RuleSetError(f"{path} line {line}: {column} {value} is not the first day of a month")
    return day


def invoice_currencies(rules_dir: Path, billing_period: date) -> dict[str, tuple[str, ...]]:
    """Invoice currency -> the customers billed in it under the terms in force for the billing period
    (rules/customers.csv: effective_from <= period < effective_to, an empty effective_to never ends)."""
    path = rules_dir / "customers.csv"
    found: dict[str, set[str]] = {}
    for line, row in _rows(path, ("customer_id", "currency_code", "effective_from", "effective_to")):
        if not row["customer_id"]:
            raise RuleSetError(f"{path} line {line}: empty customer_id")
        currency = _currency(path, line, "currency_code", row["currency_code"])
        start = _month_start(path, line, "effective_from", row["effective_from"])
        end = _month_start(path, line, "effective_to", row["effective_to"]) if row["effective_to"] else None
        if end is not None and end <= start:
            raise RuleSetError(f"{path} line {line}: effective_to {end} is not after effective_from {start}")
        if start <= billing_period and (end is None or billing_period < end):
            found.setdefault(currency, set()).add(row["customer_id"])
    return {currency: tuple(sorted(customers)) for currency, customers in sorted(found.items())}


def fx_rate_periods(rules_dir: Path) -> dict[tuple[str, str], tuple[date, ...]]:
    """(from currency, to currency) -> the billing periods rules/fx_rates.csv has a rate for, in order."""
    path = rules_dir / "fx_rates.csv"
    found: dict[tuple[str, str], set[date]] = {}
    for line, row in _rows(path, ("billing_period", "from_currency", "to_currency", "rate")):
        period = _month_start(path, line, "billing_period", row["billing_period"])
        pair = (
            _currency(path, line, "from_currency", row["from_currency"]),
            _currency(path, line, "to_currency", row["to_currency"]),
        )
        try:
            rate = Decimal(row["rate"])
        except InvalidOperation:
            raise RuleSetError(f"{path} line {line}: rate {row['rate']!r} is not a number") from None
        if not rate.is_finite() or rate <= 0:
            raise RuleSetError(f"{path} line {line}: rate must be a number > 0")
        if period in found.setdefault(pair, set()):
            raise RuleSetError(f"{path} line {line}: {pair[0]} -> {pair[1]} for {period:%Y-%m} is listed twice")
        found[pair].add(period)
    return {pair: tuple(sorted(periods)) for pair, periods in sorted(found.items())}


def unconvertible_invoice_currencies(
    rules_dir: Path, from_currency: str, billing_period: date
) -> dict[str, tuple[str, ...]]:
    """The invoice currencies (-> their customers) in force for the billing period that an amount in
    `from_currency` cannot be converted to: no rules/fx_rates.csv row from it to them for the period or an
    earlier month (the invoice takes the latest such row), and the currencies differ."""
    periods = fx_rate_periods(rules_dir)
    return {
        currency: customers
        for currency, customers in invoice_currencies(rules_dir, billing_period).items()
        if currency != from_currency
        and not any(period <= billing_period for period in periods.get((from_currency, currency), ()))
    }


# dbt's own output stays out of the linked project
_NOT_LINKED = {"rules", "target", "logs", "dbt_packages"}


def missing_rule_seeds(rules_dir: Path) -> list[str]:
    return [name for name in RULE_SEEDS if not (rules_dir / f"{name}.csv").is_file()]


def project_with_rules(rules_dir: Path, dest: Path, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """A dbt project at `dest` identical to `project_dir` but for its rules/ folder, which is `rules_dir`."""
    missing = missing_rule_seeds(rules_dir)
    if missing:
        raise FileNotFoundError(f"rule set {rules_dir} lacks {', '.join(f'{m}.csv' for m in missing)}")
    dest.mkdir(parents=True, exist_ok=True)
    for entry in project_dir.iterdir():
        if entry.name not in _NOT_LINKED:
            (dest / entry.name).symlink_to(entry.resolve())
    (dest / "rules").symlink_to(rules_dir.resolve())
    return dest
