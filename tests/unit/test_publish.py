"""Publishing the warehouse marts into the serving database, on the embedded DuckDB adapter.

The tests live in tests/contracts/publishing.py: tests/integration/test_postgres_serving.py runs
the same ones on PostgreSQL.
"""

from tests.contracts.databases import serving, serving_backend  # noqa: F401  (fixtures of those tests)
from tests.contracts.publishing import *  # noqa: F403
