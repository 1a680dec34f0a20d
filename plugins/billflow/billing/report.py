"""The invoice summary finance staff read after a run (from the serving models)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

from billflow.config import DBT_PROJECT_DIR
from billflow.engines.database import Database

SERVING_SCHEMA = "billing"


@cache
def minor_units() -> dict[str, int]:
    """Decimals printed per currency (reference seed currencies: KRW and JPY 0, USD 2)."""
    with open(DBT_PROJECT_DIR / "seeds" / "currencies.csv", newline="", encoding="utf-8") as handle:
        return {row["currency_code"]: int(row["minor_unit"]) for row in csv.DictReader(handle)}


def format_amount(amount: Decimal, currency: str) -> str:
    return f"{amount:,.{minor_units().get(currency, 2)}f}"


@dataclass(frozen=True)
class RuleRow:
    billing_period: str
    customer_id: str
    charge_category: str
    pricing_rule_id: str
    currency_code: str
    line_count: int
    amount: Decimal


def fetch_amounts_by_rule(serving: Database, billing_period: date) -> list[RuleRow]:
    """Each invoice of a period split by the rule behind its lines (pricing rule, support, custom item, tax)."""
    rows = serving.fetch_all(
        f"""select billing_period, customer_id, charge_category, pricing_rule_id, currency_code,
                   count(*), sum(amount)
            from {SERVING_SCHEMA}.invoice_lines
            where billing_period = ?
            group by billing_period, customer_id, charge_category, pricing_rule_id, currency_code
            order by customer_id, charge_category, pricing_rule_id""",
        (billing_period,),
    )
    return [RuleRow(period.strftime("%Y-%m"), *rest) for period, *rest in rows]


def format_rule_table(rows: list[RuleRow]) -> str:
    header = ("customer", "category", "rule", "lines", "amount", "cur")
    body = [
        (
            r.customer_id,
            r.charge_category,
            r.pricing_rule_id,
            str(r.line_count),
            format_amount(r.amount, r.currency_code),
            r.currency_code,
        )
        for r in rows
    ]
    return "\n".join(format_table(header, body, numeric={3, 4}))


def format_table(header: tuple[str, ...], body: list[tuple[str, ...]], numeric: set[int]) -> list[str]:
    """Aligned text columns (numbers right-aligned) under a header and a rule line."""
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(header)]

    def fmt(cells) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return [fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in body)]


@dataclass(frozen=True)
class InvoiceRow:
    billing_period: str
    customer_id: str
    customer_name: str
    status: str
    invoice_number: str
    currency_code: str
    line_count: int
    total_amount: Decimal


def fetch_invoices(serving: Database) -> list[InvoiceRow]:
    rows = serving.fetch_all(
        f"""select i.billing_period, i.customer_id, i.customer_name, i.status,
                   coalesce(i.invoice_number, ''), i.currency_code,
                   (select count(*) from {SERVING_SCHEMA}.invoice_lines as l
                    where l.customer_id = i.customer_id and l.billing_period = i.billing_period),
                   i.total_amount
            from {SERVING_SCHEMA}.invoices as i
            order by i.billing_period, i.customer_id"""
    )
    return [InvoiceRow(period.strftime("%Y-%m"), *rest) for period, *rest in rows]


def format_invoice_table(rows: list[InvoiceRow]) -> str:
    header = ("period", "customer", "name", "status", "invoice", "lines", "total", "cur")
    body = [
        (
            r.billing_period,
            r.customer_id,
            r.customer_name,
            r.status,
            r.invoice_number or "-",
            str(r.line_count),
            format_amount(r.total_amount, r.currency_code),
            r.currency_code,
        )
        for r in rows
    ]
    totals: dict[tuple[str, str], Decimal] = {}
    for r in rows:
        totals[(r.billing_period, r.currency_code)] = (
            totals.get((r.billing_period, r.currency_code), 0) + r.total_amount
        )
    lines = format_table(header, body, numeric={5, 6})
    for (period, currency), total in sorted(totals.items()):
        lines.append(f"{period} total: {format_amount(total, currency)} {currency}")
    return "\n".join(lines)
