"""The package declares what it imports, in ranges the pinned application (requirements.txt) satisfies."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DECLARED = [Requirement(text) for text in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]]


def pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            pins[requirement.name.lower()] = next((s.version for s in requirement.specifier if s.operator == "=="), "")
    return pins


def test_every_requirement_the_application_pins_is_declared_by_the_package():
    declared = {requirement.name.lower() for requirement in DECLARED}

    assert sorted(set(pinned()) - declared) == []


@pytest.mark.parametrize("requirement", DECLARED, ids=str)
def test_the_pinned_and_installed_version_is_in_the_declared_range(requirement: Requirement):
    pin = pinned().get(requirement.name.lower())
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        pytest.fail(f"{requirement.name} is declared but not installed (make install)")

    assert requirement.specifier.contains(installed, prereleases=True), (requirement, installed)
    if pin:
        assert installed == pin, f"{requirement.name}: requirements.txt pins {pin}, installed {installed}"


def test_the_runtime_dependencies_cover_what_the_package_imports():
    runtime = {Requirement(text).name.lower() for text in PROJECT["dependencies"]}
    imported = {
        "airflow": "apache-airflow",
        "dbt": "dbt-core",
        "great_expectations": "great-expectations",
        "duckdb_engine": "duckdb-engine",
        "sqlalchemy": "sqlalchemy",
        "duckdb": "duckdb",
        "pyarrow": "pyarrow",
        "pandas": "pandas",
        "s3fs": "s3fs",
    }
    sources = "\n".join(path.read_text() for path in (ROOT / "plugins" / "billflow").rglob("*.py"))

    for module, distribution in imported.items():
        assert f"import {module}" in sources or f"from {module}" in sources, module
        assert distribution in runtime, distribution
