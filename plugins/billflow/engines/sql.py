"""Small SQL text helpers shared by the adapters."""

from __future__ import annotations


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
