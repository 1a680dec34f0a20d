"""A rule set is a folder of CSV seeds; project_with_rules runs it without touching the checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from billflow.config import DBT_PROJECT_DIR, allocation_tag_keys
from billflow.rules import RULE_SEEDS, missing_rule_seeds, project_with_rules

DEMO_RULES = DBT_PROJECT_DIR.parent / "demo" / "rules"


def test_the_project_rules_folder_is_the_demo_rule_set() -> None:
    assert (DBT_PROJECT_DIR / "rules").resolve() == DEMO_RULES.resolve()
    assert missing_rule_seeds(DEMO_RULES) == []


def test_project_with_rules_links_the_project_but_takes_the_given_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DEMO_RULES, rules)
    (rules / "allocation_tag_keys.csv").write_text("tag_key,description\ncost_center,Cost centre\n")

    project = project_with_rules(rules, tmp_path / "project")

    assert (project / "rules").resolve() == rules.resolve()
    assert (project / "dbt_project.yml").resolve() == (DBT_PROJECT_DIR / "dbt_project.yml").resolve()
    assert (project / "models").resolve() == (DBT_PROJECT_DIR / "models").resolve()
    assert not (project / "target").exists()
    assert allocation_tag_keys(project / "rules" / "allocation_tag_keys.csv") == ("cost_center",)


def test_a_rule_set_missing_a_seed_is_refused_with_its_name(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(DEMO_RULES, rules)
    (rules / "fx_rates.csv").unlink()

    with pytest.raises(FileNotFoundError, match=r"lacks fx_rates\.csv"):
        project_with_rules(rules, tmp_path / "project")
    assert "fx_rates" in RULE_SEEDS
