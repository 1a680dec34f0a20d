"""Publish the warehouse marts into the serving database, where the serving dbt models read them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from billflow.engines.database import Database
from billflow.serving.shadow import PUBLISHED_SHADOW_SCHEMA

log = logging.getLogger(__name__)

MARTS_SCHEMA = "marts"
# each published mart and the money column whose total must survive the copy to the cent
PUBLISHED_MARTS = {"daily_costs": "billed_cost", "invoice_lines": "amount", "invoices": "total_amount"}


class PublishError(RuntimeError):
    """The serving copy does not match the warehouse marts."""


@dataclass(frozen=True)
class PublishResult:
    rows: dict[str, int]
    billing_periods: list[str]


def publish_marts(
    warehouse: Database, serving: Database, schema: str = PUBLISHED_SHADOW_SCHEMA, marts_schema: str = MARTS_SCHEMA
) -> PublishResult:
    """Replace the copy of every mart in `schema` (the serving shadow: nothing is live until the release)
    in one serving transaction, then check it to the cent. `marts_schema`: where the warehouse keeps them
    (a Redshift candidate's schemas carry a suffix).

    Each mart streams from the warehouse to serving in batches (billflow.engines.database.STREAM_BATCH_ROWS):
    a mart of any size never sits whole in this process. A re-run gives the same published tables.
    """
    tables = {name: warehouse.stream_arrow(f"select * from {marts_schema}.{name}") for name in PUBLISHED_MARTS}
    serving.replace_tables(schema, tables)
    rows = {name: _check_copy(name, warehouse, serving, schema, marts_schema) for name in PUBLISHED_MARTS}
    periods = [
        _period_label(period)
        for (period,) in serving.fetch_all(f"select distinct billing_period from {schema}.invoices order by 1")
    ]
    log.info("published %s for billing periods %s", rows, ", ".join(periods))
    return PublishResult(rows, periods)


def _period_label(value: object) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)[:7]


def _check_copy(name: str, warehouse: Database, serving: Database, schema: str, marts_schema: str) -> int:
    """The copy's rows, once its row count and money total equal the warehouse mart's."""
    money = PUBLISHED_MARTS[name]
    sql = f"select count(*), coalesce(sum({money}), 0) from {{schema}}.{name}"
    source = tuple(warehouse.fetch_all(sql.format(schema=marts_schema))[0])
    copied = tuple(serving.fetch_all(sql.format(schema=schema))[0])
    if copied != source:
        raise PublishError(
            f"{schema}.{name} holds {copied[0]} rows / {money} {copied[1]}, "
            f"the warehouse mart {source[0]} rows / {source[1]}"
        )
    return int(copied[0])
