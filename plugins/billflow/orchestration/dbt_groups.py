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
from billflow.pipeline import PRODUCTION_BUILD_FLAGS

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


def dbt_task_group(group_id: str, target: str, select: list[str]) -> DbtTaskGroup:
    """Models selected from the billflow dbt project, run against one profile target."""
    settings = load_settings()
    # the configured project: another rule set runs through a project of links (billflow.rules); its models
    # are the checkout's, so the checkout's manifest renders its tasks
    project_config = ProjectConfig(
        dbt_project_path=settings.dbt_project_dir, project_name="billflow", install_dbt_deps=False, partial_parse=True
    )
    # A plain local Path: Cosmos would wrap the manifest in an ObjectStoragePath, whose provider discovery
    # costs about a second of every DAG parse.
    project_config.manifest_path = MANIFEST_PATH
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project_config,
        profile_config=ProfileConfig(
            profile_name="billflow",
            target_name=target,
            profiles_yml_filepath=settings.dbt_profiles_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=select,
            test_behavior=TestBehavior.BUILD,
            # tests that join two models (reconciliations) run once both parents are built
            should_detach_multiple_parents_tests=True,
            enable_mock_profile=False,
        ),
        operator_args={"pool": DUCKDB_POOL, "dbt_cmd_flags": list(PRODUCTION_BUILD_FLAGS)},
    )
