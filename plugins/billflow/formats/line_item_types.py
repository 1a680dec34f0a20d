"""The AWS line item types billflow knows: the one list is the dbt seed seeds/line_item_types.csv."""

from __future__ import annotations

import csv
from pathlib import Path

SEED = Path("seeds") / "line_item_types.csv"


def known_line_item_types(project_dir: Path | None = None) -> frozenset[str]:
    """The `line_item_type` column of the project's seed (default: the configured dbt project).

    Raises ValueError when the seed has no such column, an empty type or a type listed twice."""
    if project_dir is None:
        from billflow.config import load_settings

        project_dir = load_settings().dbt_project_dir
    path = project_dir / SEED
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "line_item_type" not in reader.fieldnames:
            raise ValueError(f"{path}: needs a line_item_type column")
        types: set[str] = set()
        for line, row in enumerate(reader, start=2):
            name = (row["line_item_type"] or "").strip()
            if not name:
                raise ValueError(f"{path} line {line}: empty line_item_type")
            if name in types:
                raise ValueError(f"{path} line {line}: line_item_type {name} is listed twice")
            types.add(name)
    if not types:
        raise ValueError(f"{path}: lists no line item type")
    return frozenset(types)
