"""Behaviour every adapter of a port must show: test functions shared by the unit tests (embedded
DuckDB) and the integration tests (PostgreSQL). The test modules that run them star-import them and
import the fixtures of tests/contracts/databases.py.

The serving database is DuckDB unless the test module overrides the `serving_backend` fixture
(after the star import): tests/integration/test_postgres_serving.py runs them on PostgreSQL.
"""
