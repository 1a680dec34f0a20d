"""The staging SQL (STAGING_DIALECT, over RAW_DELIVERY) rendered for Athena (Trino) with sqlglot: never a
second hand-kept copy of a query.

Rendering binds RAW_DELIVERY to the delivery's Glue table, restricted to the delivery's files (Athena's
`$path` column, which also gives each line's file as RAW_FILE_COLUMN), and maps what DuckDB has and Trino
spells differently: DuckDB's `hash(a, b, ...)` (a 64-bit grouping key) becomes xxhash64 over the values
joined by a unit separator. A statement that does not parse, or that sqlglot cannot write for Trino,
raises: nothing half-rendered reaches Athena.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp

from billflow.engines.query import RAW_DELIVERY, RAW_FILE_COLUMN, STAGING_DIALECT
from billflow.engines.sql import quote_literal

ATHENA_DIALECT = "trino"
_SEPARATOR = "chr(31)"  # the ASCII unit separator: not a character of a line item id or a time interval


def delivery_relation(table: str, files: Sequence[str]) -> str:
    """RAW_DELIVERY in Trino: the Glue table `table` (database.table, each part quoted) over the delivery's
    folder, restricted to its files, with each line's file as RAW_FILE_COLUMN."""
    if not files:
        raise ValueError("no data files to read")
    listed = ", ".join(quote_literal(uri) for uri in dict.fromkeys(files))
    return f'select *, "$path" as {RAW_FILE_COLUMN} from {table} where "$path" in ({listed})'


def render_for_athena(sql: str, table: str, files: Sequence[str]) -> str:
    """`sql` (STAGING_DIALECT, reading RAW_DELIVERY) as Trino SQL over the delivery's Glue table."""
    tree = sqlglot.parse_one(sql, read=STAGING_DIALECT, error_level=sqlglot.ErrorLevel.RAISE)
    source = sqlglot.parse_one(delivery_relation(table, files), read=ATHENA_DIALECT)
    tree = tree.transform(lambda node: _bound(node, source))
    tree = tree.transform(_portable_hash)
    return tree.sql(dialect=ATHENA_DIALECT, unsupported_level=sqlglot.ErrorLevel.RAISE, comments=False)


def _bound(node: exp.Expression, source: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and not node.args.get("db") and node.name == RAW_DELIVERY:
        alias = node.alias or RAW_DELIVERY
        return exp.Subquery(this=source.copy(), alias=exp.TableAlias(this=exp.to_identifier(alias)))
    return node


def _portable_hash(node: exp.Expression) -> exp.Expression:
    """DuckDB's hash(a, b, ...) -> xxhash64(to_utf8(coalesce(a, '') || chr(31) || coalesce(b, '') ...)): also
    a grouping key whose collisions the caller tells apart (raw_duplicates.sql compares the values)."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "hash"):
        return node
    parts = [f"coalesce(cast({value.sql(dialect=ATHENA_DIALECT)} as varchar), '')" for value in node.expressions]
    joined = f" || {_SEPARATOR} || ".join(parts)
    return sqlglot.parse_one(f"xxhash64(to_utf8({joined}))", read=ATHENA_DIALECT)
