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

    The marts are aggregates (customer x account x service x day at most), so a full copy stays small
    and a re-run gives the same published tables.
    """
    tables = {name: warehouse.fetch_arrow(f"select * from {marts_schema}.{name}") for name in PUBLISHED_MARTS}
    serving.replace_tables(schema, tables)
    for name in tables:
        _check_copy(name, warehouse, serving, schema, marts_schema)
    periods = sorted({p.strftime("%Y-%m") for p in tables["invoices"].column("billing_period").to_pylist()})
    rows = {name: t.num_rows for name, t in tables.items()}
    log.info("published %s for billing periods %s", rows, ", ".join(periods))
    return PublishResult(rows, periods)


def _check_copy(name: str, warehouse: Database, serving: Database, schema: str, marts_schema: str) -> None:
    money = PUBLISHED_MARTS[name]
    sql = f"select count(*), coalesce(sum({money}), 0) from {{schema}}.{name}"
    source = tuple(warehouse.fetch_all(sql.format(schema=marts_schema))[0])
    copied = tuple(serving.fetch_all(sql.format(schema=schema))[0])
    if copied != source:
        raise PublishError(
            f"{schema}.{name} holds {copied[0]} rows / {money} {copied[1]}, "
            f"the warehouse mart {source[0]} rows / {source[1]}"
        )
