"""The CUR line item types billflow knows, read from the dbt seed that declares them.

`dbt_project/seeds/line_item_types.csv` is the one place a line item type is declared (its charge
category and pass-through class drive the billing models); code outside dbt reads the same file here
instead of keeping its own list.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from billflow.config import load_settings

# where the seed lives inside a dbt project, and how an error message names it
SEED_RELATIVE_PATH = Path("seeds") / "line_item_types.csv"
SEED_DISPLAY_PATH = "dbt_project/seeds/line_item_types.csv"
COLUMNS = ("line_item_type", "charge_category", "pass_through_class", "description")
_NAME = re.compile(r"^[A-Za-z]+$")


class LineItemTypesError(ValueError):
    """The line item types seed is missing or malformed."""


@dataclass(frozen=True)
class LineItemType:
    name: str
    charge_category: str
    pass_through_class: str | None
    description: str


def seed_path(project_dir: Path | None = None) -> Path:
    """The seed of the given dbt project (default: the configured one, BILLFLOW_DBT_PROJECT_DIR)."""
    return (project_dir or load_settings().dbt_project_dir) / SEED_RELATIVE_PATH


def declare_hint(line_item_type: str) -> str:
    """What to tell someone whose CUR carries a type the seed does not declare."""
    return f"declare {line_item_type!r} in {SEED_DISPLAY_PATH}"


def read_line_item_types(path: Path) -> tuple[LineItemType, ...]:
    """Every row of a line item types seed, in file order; refuses a malformed file."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError as missing:
        raise LineItemTypesError(f"{path}: no line item types seed ({SEED_DISPLAY_PATH})") from missing
    if not rows or tuple(rows[0]) != COLUMNS:
        found = ",".join(rows[0]) if rows else "an empty file"
        raise LineItemTypesError(f"{path}: the header must be {','.join(COLUMNS)}, found {found}")
    types: list[LineItemType] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        types.append(_parse_row(path, line, row, seen))
    return tuple(types)


def _parse_row(path: Path, line: int, row: list[str], seen: dict[str, int]) -> LineItemType:
    if len(row) != len(COLUMNS):
        raise LineItemTypesError(f"{path}, line {line}: {len(row)} fields, expected {len(COLUMNS)}")
    name, charge_category, pass_through_class, description = row
    if not _NAME.match(name):
        raise LineItemTypesError(f"{path}, line {line}: line item type {name!r} is not a name of letters only")
    if name in seen:
        raise LineItemTypesError(f"{path}, line {line}: {name!r} is declared twice (also line {seen[name]})")
    seen[name] = line
    return LineItemType(name, charge_category, pass_through_class or None, description)


def known_line_item_types(project_dir: Path | None = None) -> frozenset[str]:
    """The names of every line item type the dbt project declares (default: the configured project)."""
    return frozenset(kind.name for kind in read_line_item_types(seed_path(project_dir)))
