#!/usr/bin/env bash
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d):
# next to the Airflow metadata database ($POSTGRES_DB, owned by $POSTGRES_USER), create the
# billflow serving database and its owner. billflow creates its schemas itself
# (billing_control, published; dbt: billing).
set -euo pipefail

: "${BILLFLOW_PG_USER:?set BILLFLOW_PG_USER}"
: "${BILLFLOW_PG_PASSWORD:?set BILLFLOW_PG_PASSWORD}"
: "${BILLFLOW_PG_DBNAME:?set BILLFLOW_PG_DBNAME}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$BILLFLOW_PG_USER" -v password="$BILLFLOW_PG_PASSWORD" -v dbname="$BILLFLOW_PG_DBNAME" <<'SQL'
select format('create role %I login password %L', :'role', :'password')
where not exists (select 1 from pg_roles where rolname = :'role') \gexec
select format('create database %I owner %I', :'dbname', :'role')
where not exists (select 1 from pg_database where datname = :'dbname') \gexec
select format('revoke all on database %I from public', :'dbname') \gexec
SQL
