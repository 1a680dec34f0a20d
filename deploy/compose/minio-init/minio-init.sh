#!/bin/sh
# One-shot `minio-buckets` service of docker-compose.yml, the only user of MinIO's root account: the landing
# and staged buckets, then billflow's own user (MINIO_BILLFLOW_ACCESS_KEY) holding only billflow-policy.json.
# Idempotent, run on every `docker compose up`: existing buckets are kept, the policy is replaced by the
# file's, the user's secret key is set again, and attaching an attached policy succeeds (mc 2024-10 and later).
# POSIX sh: the mc image is a minimal one.
set -eu

: "${MINIO_ROOT_USER:?set MINIO_ROOT_USER}"
: "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD}"
: "${MINIO_BILLFLOW_ACCESS_KEY:?set MINIO_BILLFLOW_ACCESS_KEY}"
: "${MINIO_BILLFLOW_SECRET_KEY:?set MINIO_BILLFLOW_SECRET_KEY}"
endpoint="${MINIO_ENDPOINT:-http://minio:9000}"
policy_file="${0%/*}/billflow-policy.json"

if [ "$MINIO_BILLFLOW_ACCESS_KEY" = "$MINIO_ROOT_USER" ]; then
    echo "MINIO_BILLFLOW_ACCESS_KEY must differ from MINIO_ROOT_USER: billflow gets its own MinIO user" >&2
    exit 1
fi

tries=0
until mc alias set root "$endpoint" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" > /dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge "${MINIO_WAIT_SECONDS:-60}" ]; then
        echo "minio did not accept the root account at $endpoint" >&2
        exit 1
    fi
    sleep 1
done

mc mb --ignore-existing root/billflow-landing root/billflow-staged
mc admin policy create root billflow "$policy_file"
mc admin user add root "$MINIO_BILLFLOW_ACCESS_KEY" "$MINIO_BILLFLOW_SECRET_KEY"
mc admin policy attach root billflow --user "$MINIO_BILLFLOW_ACCESS_KEY"
echo "minio: buckets billflow-landing, billflow-staged; user $MINIO_BILLFLOW_ACCESS_KEY with policy billflow"
