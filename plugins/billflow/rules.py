"""Rule sets: the partner's billing rules are the CSV seeds in the dbt project's rules/ folder.

The project ships rules/ as a link to the demo rule set (demo/rules, beside the demo data). A partner
replaces the link with its own folder; `project_with_rules` builds a project that runs another rule set
without touching the checkout (tests, trying a change), like Cosmos does: links to every entry of the
project, with rules/ pointing elsewhere. Set BILLFLOW_DBT_PROJECT_DIR to the result.
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from billflow.config import DBT_PROJECT_DIR

RULE_SEEDS = (
    "customers",
    "account_assignments",
    "pricing_rules",
    "custom_line_items",
    "fx_rates",
    "allocation_tag_keys",
    "unassigned_cost_limits",
)
_PAYER_OR_ALL = re.compile(r"^(\d{12,13}|\*)$")


class RuleSetError(ValueError):
    """A rule-set file that cannot be used as it is."""


def unassigned_cost_limits(rules_dir: Path) -> dict[str, Decimal]:
    """payer account id (or '*', every payer) -> the largest unassigned cost a payer's month may carry and
    still be closed (rules/unassigned_cost_limits.csv; an absolute amortized cost in the CUR currency)."""
    path = rules_dir / "unassigned_cost_limits.csv"
    limits: dict[str, Decimal] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"payer_account_id", "max_unassigned_cost"} <= set(reader.fieldnames):
            raise RuleSetError(f"{path}: needs the columns payer_account_id, max_unassigned_cost")
        for line, row in enumerate(reader, start=2):
            payer = (row["payer_account_id"] or "").strip()
            if not _PAYER_OR_ALL.match(payer):
                raise RuleSetError(f"{path} line {line}: payer_account_id {payer!r} is not an account id or '*'")
            try:
                limit = Decimal((row["max_unassigned_cost"] or "").strip())
            except InvalidOperation:
                raise RuleSetError(
                    f"{path} line {line}: max_unassigned_cost {row['max_unassigned_cost']!r} is not a number"
                ) from None
            if not limit.is_finite() or limit < 0:
                raise RuleSetError(f"{path} line {line}: max_unassigned_cost must be a number >= 0")
            if payer in limits:
                raise RuleSetError(f"{path} line {line}: payer {payer} is listed twice")
            limits[payer] = limit
    return limits


# dbt's own output stays out of the linked project
_NOT_LINKED = {"rules", "target", "logs", "dbt_packages"}


def missing_rule_seeds(rules_dir: Path) -> list[str]:
    return [name for name in RULE_SEEDS if not (rules_dir / f"{name}.csv").is_file()]


def project_with_rules(rules_dir: Path, dest: Path, project_dir: Path = DBT_PROJECT_DIR) -> Path:
    """A dbt project at `dest` identical to `project_dir` but for its rules/ folder, which is `rules_dir`."""
    missing = missing_rule_seeds(rules_dir)
    if missing:
        raise FileNotFoundError(f"rule set {rules_dir} lacks {', '.join(f'{m}.csv' for m in missing)}")
    dest.mkdir(parents=True, exist_ok=True)
    for entry in project_dir.iterdir():
        if entry.name not in _NOT_LINKED:
            (dest / entry.name).symlink_to(entry.resolve())
    (dest / "rules").symlink_to(rules_dir.resolve())
    return dest
