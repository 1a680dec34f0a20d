#!/usr/bin/env bash
# One-shot `airflow-init` service of docker-compose.yml: metadata database, pools, login, connections.
# Connections are not stored: AIRFLOW_CONN_AWS_DEFAULT and AIRFLOW_CONN_BILLFLOW_SERVING (environment)
# define them; this only checks that Airflow resolves both before the other services start.
set -euo pipefail

airflow db migrate

airflow pools set billflow_duckdb 1 "one writer at a time on the warehouse DuckDB file"
airflow pools set billflow_staging 4 "parallel staging queries"

for conn_id in "${BILLFLOW_AWS_CONN_ID:-aws_default}" "${BILLFLOW_SERVING_CONN_ID:?set BILLFLOW_SERVING_CONN_ID}"; do
    if ! airflow connections get "$conn_id" -o json > /dev/null; then
        echo "connection $conn_id is not defined: set AIRFLOW_CONN_${conn_id^^}" >&2
        exit 1
    fi
    echo "connection $conn_id: defined"
done

# The simple auth manager reads the admin password from this file (it generates one when missing).
bash "$(dirname "$0")/write-passwords-file.sh" "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"
echo "airflow login: ${AIRFLOW_ADMIN_USER:-admin} (password: AIRFLOW_ADMIN_PASSWORD in .env)"
