"""The dbt project rendered as Airflow tasks with Cosmos: one task per model, its tests right after it.

A failed test fails its task group node, so every model downstream of it is not run.
The task graph comes from dbt_project/target/manifest.json (`make dbt-parse` regenerates it).
"""

from __future__ import annotations

import airflow.sdk  # noqa: F401  (Cosmos needs airflow.sdk imported first)
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from billflow.config import DBT_PROJECT_DIR, load_settings
from billflow.orchestration.tasks import DUCKDB_POOL

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


def dbt_task_group(group_id: str, target: str, select: list[str]) -> DbtTaskGroup:
    """Models selected from the billflow dbt project, run against one profile target."""
    settings = load_settings()
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=MANIFEST_PATH,
            project_name="billflow",
            install_dbt_deps=False,
            partial_parse=False,
        ),
        profile_config=ProfileConfig(
            profile_name="billflow",
            target_name=target,
            profiles_yml_filepath=settings.dbt_profiles_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=select,
            test_behavior=TestBehavior.AFTER_EACH,
            enable_mock_profile=False,
        ),
        operator_args={"install_deps": False, "pool": DUCKDB_POOL},
    )
