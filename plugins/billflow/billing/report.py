"""The invoice summary finance staff read after a run (from the serving models)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billflow.engines.database import Database

SERVING_SCHEMA = "billing"


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
            f"{r.total_amount:,.2f}",
            r.currency_code,
        )
        for r in rows
    ]
    totals: dict[tuple[str, str], Decimal] = {}
    for r in rows:
        totals[(r.billing_period, r.currency_code)] = (
            totals.get((r.billing_period, r.currency_code), 0) + r.total_amount
        )
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(header)]
    numeric = {5, 6}

    def fmt(cells) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in body)]
    for (period, currency), total in sorted(totals.items()):
        lines.append(f"{period} total: {total:,.2f} {currency}")
    return "\n".join(lines)
