"""Rule sets: the partner's billing rules are the CSV seeds in the dbt project's rules/ folder.

The project ships rules/ as a link to the demo rule set (demo/rules, beside the demo data). A partner
replaces the link with its own folder; `project_with_rules` builds a project that runs another rule set
without touching the checkout (tests, trying a change), like Cosmos does: links to every entry of the
project, with rules/ pointing elsewhere. Set BILLFLOW_DBT_PROJECT_DIR to the result.
"""

from __future__ import annotations

from pathlib import Path

from billflow.config import DBT_PROJECT_DIR

RULE_SEEDS = (
    "customers",
    "account_assignments",
    "pricing_rules",
    "custom_line_items",
    "fx_rates",
    "allocation_tag_keys",
)
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
