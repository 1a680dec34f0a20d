"""`billflow` command line: one argparse subcommand per module.

To add a subcommand, write a module in `billflow.cli` with `register(subparsers)` that adds its parser
and sets `func` (called with the parsed namespace, returns an exit code), then list the module in
`SUBCOMMANDS` below.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

SUBCOMMANDS: tuple[str, ...] = ("billflow.cli.invoices",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billflow",
        description="AWS Cost & Usage Reports to cost-allocation marts and customer invoices.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMANDS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (2 for usage errors, like argparse)."""
    return run_command(build_parser(), argv)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse argv and call the chosen subcommand's `func`; returns its exit code (2 for usage errors)."""
    try:
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except SystemExit as exc:  # argparse errors / --help, and subcommands calling parser.error()
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":
    raise SystemExit(main())
