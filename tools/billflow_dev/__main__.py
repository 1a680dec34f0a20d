"""`python -m billflow_dev generate-cur | bench | bench-airflow | bench-focus | gate-bench | athena-scan |
demo-aws`: a subcommand per module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from billflow.cli.main import run_command
from billflow_dev import airflow_bench, athena_scan, bench, demo_aws, focus_bench, gate_bench, generate


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (2 for usage errors, like argparse)."""
    parser = argparse.ArgumentParser(prog="python -m billflow_dev", description="billflow development tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (generate, bench, airflow_bench, focus_bench, gate_bench, athena_scan, demo_aws):
        module.register(subparsers)
    return run_command(parser, argv)


if __name__ == "__main__":
    sys.exit(main())
