"""Load ledger, the monthly close's invoice locks, the run lock, releases and the migration of earlier control
tables in the serving database, on the embedded DuckDB adapter.

The tests live in tests/contracts/control_tables.py, releases.py and restatement.py:
tests/integration/test_postgres_serving.py runs the same ones on PostgreSQL.
"""

from tests.contracts.control_tables import *  # noqa: F403
from tests.contracts.databases import serving, serving_backend  # noqa: F401  (fixtures of those tests)
from tests.contracts.releases import *  # noqa: F403
from tests.contracts.restatement import *  # noqa: F403
