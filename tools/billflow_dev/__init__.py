"""Development tooling of billflow, kept apart from the product package: the sample CUR generator, the
legacy CSV CUR converter the tests land real CSV files with, and the bench. `python -m billflow_dev`
(the Makefile puts `tools/` on PYTHONPATH)."""
