"""Assets the DAGs exchange: one Asset per published billing period, reached through an alias."""

from __future__ import annotations

PUBLISHED_PERIODS_ALIAS = "billflow-published-billing-periods"


def published_period_uri(period_label: str) -> str:
    return f"billflow://serving/invoices/{period_label}"
