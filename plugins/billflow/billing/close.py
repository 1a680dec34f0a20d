"""Monthly close: freeze the final invoices of billing periods whose CUR is final and whose month is over."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from billflow.control.schema import CONTROL_SCHEMA, ensure_control_tables
from billflow.engines.database import Database
from billflow.serving.publish import PUBLISHED_SCHEMA

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockedInvoice:
    customer_id: str
    billing_period: date
    invoice_number: str


def month_after(period: date) -> date:
    return date(period.year + (period.month == 12), period.month % 12 + 1, 1)


def invoice_number(period: date, sequence: int) -> str:
    return f"BF-{period:%Y%m}-{sequence:04d}"


def lock_final_invoices(serving: Database, as_of: date, locked_at: datetime | None = None) -> list[LockedInvoice]:
    """Lock every published invoice that is final and not locked yet; locked invoices are never touched.

    Invoice numbers run per billing period in customer order, continuing after those already issued.
    """
    ensure_control_tables(serving)
    stamp = (locked_at or datetime.now(UTC)).replace(tzinfo=None)
    candidates = serving.fetch_all(
        f"""select i.customer_id, i.billing_period, i.currency_code, i.total_amount
        from {PUBLISHED_SCHEMA}.invoices as i
        where i.is_cur_final
          and not exists (
              select 1 from {CONTROL_SCHEMA}.invoice_locks as l
              where l.customer_id = i.customer_id and l.billing_period = i.billing_period)
        order by i.billing_period, i.customer_id"""
    )
    issued = dict(
        serving.fetch_all(
            f"select billing_period, count(*) from {CONTROL_SCHEMA}.invoice_locks group by billing_period"
        )
    )
    locked: list[LockedInvoice] = []
    with serving.transaction():
        for customer_id, period, currency, total in candidates:
            if month_after(period) > as_of:
                continue
            issued[period] = issued.get(period, 0) + 1
            number = invoice_number(period, issued[period])
            serving.execute(
                f"insert into {CONTROL_SCHEMA}.invoice_locks values (?, ?, ?, ?, ?, ?)",
                (customer_id, period, number, currency, total, stamp),
            )
            serving.execute(
                f"""insert into {CONTROL_SCHEMA}.locked_invoice_lines
                select customer_id, billing_period, product_code, charge_category, pricing_rule_id,
                    currency_code, amount
                from {PUBLISHED_SCHEMA}.invoice_lines
                where customer_id = ? and billing_period = ?""",
                (customer_id, period),
            )
            locked.append(LockedInvoice(customer_id, period, number))
    log.info("locked %d invoices as of %s", len(locked), as_of)
    return locked
