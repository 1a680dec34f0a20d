"""The line item types seed is the one list of CUR line item types; code outside dbt reads it here."""

from __future__ import annotations

from pathlib import Path

import pytest

from billflow.config import DBT_PROJECT_DIR
from billflow.formats.line_item_types import (
    SEED_DISPLAY_PATH,
    LineItemType,
    LineItemTypesError,
    declare_hint,
    known_line_item_types,
    read_line_item_types,
    seed_path,
)
from billflow.rules import project_with_rules

HEADER = "line_item_type,charge_category,pass_through_class,description\n"

# the line item types of AWS's CUR data dictionary
AWS_LINE_ITEM_TYPES = {
    "Usage",
    "DiscountedUsage",
    "SavingsPlanCoveredUsage",
    "SavingsPlanNegation",
    "SavingsPlanRecurringFee",
    "SavingsPlanUpfrontFee",
    "RIFee",
    "Fee",
    "Credit",
    "Refund",
    "Tax",
    "BundledDiscount",
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
    "RiVolumeDiscount",
    "SppDiscount",
    "DistributorDiscount",
}


def project_with_seed(tmp_path: Path, text: str) -> Path:
    seeds = tmp_path / "project" / "seeds"
    seeds.mkdir(parents=True)
    (seeds / "line_item_types.csv").write_text(text, encoding="utf-8")
    return tmp_path / "project"


def test_the_project_seed_declares_every_line_item_type_of_the_cur_data_dictionary() -> None:
    assert known_line_item_types(DBT_PROJECT_DIR) == AWS_LINE_ITEM_TYPES


def test_the_spp_discount_has_its_own_pass_through_class_and_the_other_discounts_share_one() -> None:
    types = {kind.name: kind for kind in read_line_item_types(seed_path(DBT_PROJECT_DIR))}

    assert types["SppDiscount"] == LineItemType(
        "SppDiscount", "discount", "spp_discount", "Solution Provider Program discount: the reseller's own margin"
    )
    assert {name for name, kind in types.items() if kind.pass_through_class == "discount"} == {
        "BundledDiscount",
        "Discount",
        "EdpDiscount",
        "PrivateRateDiscount",
        "RiVolumeDiscount",
        "DistributorDiscount",
    }
    assert types["Usage"].pass_through_class is None
    assert all(kind.description for kind in types.values())


def test_by_default_the_configured_projects_seed_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = project_with_seed(tmp_path, HEADER + "Usage,usage,,Usage\nSppDiscount,discount,spp_discount,SPP\n")
    monkeypatch.setenv("BILLFLOW_DBT_PROJECT_DIR", str(project))

    assert seed_path() == project / "seeds" / "line_item_types.csv"
    assert known_line_item_types() == frozenset({"Usage", "SppDiscount"})


def test_a_project_with_another_rule_set_reads_the_same_seed(tmp_path: Path) -> None:
    project = project_with_rules(DBT_PROJECT_DIR / "rules", tmp_path / "project")

    assert known_line_item_types(project) == AWS_LINE_ITEM_TYPES


def test_the_hint_names_the_type_and_the_seed_to_declare_it_in() -> None:
    assert SEED_DISPLAY_PATH == "dbt_project/seeds/line_item_types.csv"
    assert declare_hint("NewDiscount") == "declare 'NewDiscount' in dbt_project/seeds/line_item_types.csv"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("line_item_type,charge_category,pass_through_class\nUsage,usage,\n", r"the header must be .*, found"),
        ("", r"the header must be .*, found an empty file"),
        (
            HEADER + "Usage,usage,,Usage\nTax,tax,,Tax\nUsage,usage,,Again\n",
            r"line 4: 'Usage' is declared twice \(also line 2\)",
        ),
        (HEADER + ",usage,,Nameless\n", r"line 2: line item type '' is not a name of letters only"),
        (HEADER + "Spp Discount,discount,spp_discount,SPP\n", r"line 2: line item type 'Spp Discount'"),
        (HEADER + "Usage ,usage,,Usage\n", r"line 2: line item type 'Usage '"),
        (HEADER + "Ri2Fee,commitment,,RI\n", r"line 2: line item type 'Ri2Fee'"),
        (HEADER + "Usage,usage,Usage\n", r"line 2: 3 fields, expected 4"),
    ],
    ids=["no-description-column", "empty", "duplicate", "empty-name", "space", "trailing-space", "digit", "short-row"],
)
def test_a_malformed_seed_is_refused_with_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    project = project_with_seed(tmp_path, text)

    with pytest.raises(LineItemTypesError, match=message) as refused:
        known_line_item_types(project)
    assert str(project / "seeds" / "line_item_types.csv") in str(refused.value)


def test_a_missing_seed_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(LineItemTypesError, match=r"no line item types seed \(dbt_project/seeds/line_item_types\.csv\)"):
        known_line_item_types(tmp_path)
