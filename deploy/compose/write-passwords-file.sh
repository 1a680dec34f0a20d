#!/usr/bin/env bash
# Writes the simple auth manager's passwords file, {"<AIRFLOW_ADMIN_USER>": "<AIRFLOW_ADMIN_PASSWORD>"},
# readable by its owner only (the user running this: airflow in the image). Called by airflow-init.sh.
#   write-passwords-file.sh FILE
set -euo pipefail

passwords_file="${1:?usage: write-passwords-file.sh FILE}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD}"

umask 077
folder="$(dirname "$passwords_file")"
mkdir -p "$folder"
# a new file (mktemp: 0600) renamed over the old one, so a file left readable by an older version is replaced
tmp="$(mktemp "$folder/.passwords.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
# the password stays in the environment, never on a command line
python3 - "$tmp" <<'PY'
import json
import os
import sys

with open(sys.argv[1], "w") as f:
    json.dump({os.environ.get("AIRFLOW_ADMIN_USER", "admin"): os.environ["AIRFLOW_ADMIN_PASSWORD"]}, f)
PY
mv -f "$tmp" "$passwords_file"
trap - EXIT
