"""The staged schema is written down once, STAGED_SCHEMA / STAGED_TAG_SCHEMA in billflow.staging.columns;
the dbt sources that read the staged files and the schema table of docs/ARCHITECTURE.md must say the same
(staging itself writes exactly STAGED_SCHEMA: tests/unit/test_staging.py; the gate derives its column
contract from it: tests/unit/test_quality_gate.py)."""

from __future__ import annotations

import re

import pyarrow as pa
import yaml

from billflow.staging.columns import STAGED_SCHEMA, STAGED_TAG_SCHEMA
from tests.conftest import ROOT

SOURCES = ROOT / "dbt_project" / "models" / "warehouse" / "staging" / "_staged__sources.yml"
DOC_TYPES = {"date": pa.date32(), "varchar": pa.string(), "decimal(38,10)": pa.decimal128(38, 10), "bigint": pa.int64()}


def source_columns(table: str) -> list[str]:
    (staged,) = [source for source in yaml.safe_load(SOURCES.read_text())["sources"] if source["name"] == "staged"]
    (found,) = [t for t in staged["tables"] if t["name"] == table]
    return [column["name"] for column in found["columns"]]


def documented_schema() -> list[tuple[str, pa.DataType]]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("## Staged schema", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| ([\w(),]+) \|", section, flags=re.MULTILINE)
    return [(name, DOC_TYPES[kind]) for name, kind in rows if name != "column"]


def test_the_dbt_source_of_the_staged_costs_lists_the_staged_schema_in_its_order():
    assert source_columns("cur_daily") == STAGED_SCHEMA.names


def test_the_dbt_source_of_the_staged_tag_costs_lists_the_staged_tag_schema_in_its_order():
    assert source_columns("cur_daily_tags") == STAGED_TAG_SCHEMA.names


def test_the_architecture_docs_give_every_staged_column_with_its_type():
    assert documented_schema() == [(field.name, field.type) for field in STAGED_SCHEMA]
