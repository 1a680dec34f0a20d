# billflow on Airflow 3.3 (LocalExecutor): the image of the airflow-* services of docker-compose.yml.
# Build context: the repository root.   docker compose build   (or: docker build -t billflow:local .)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/billflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/billflow/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    BILLFLOW_HOME=/opt/billflow/data

RUN groupadd --gid 50000 airflow \
    && useradd --uid 50000 --gid airflow --home-dir /opt/airflow --create-home --shell /bin/bash airflow

WORKDIR /opt/billflow

# Dependencies first (the slow layer, rebuilt only when requirements.txt changes). uv resolves the pinned
# set in about a minute where pip takes much longer (shared/docs/STACK.md).
COPY requirements.txt ./
RUN python -m pip install uv==0.13.9 \
    && uv pip install --system --no-cache -r requirements.txt

# The billflow package, editable: billflow.config finds dbt_project/ and expectations/ beside plugins/.
COPY pyproject.toml ./
COPY plugins/ plugins/
RUN uv pip install --system --no-cache --no-deps -e .

COPY dags/ dags/
COPY dbt_project/ dbt_project/
COPY demo/ demo/
COPY expectations/ expectations/
COPY deploy/compose/ deploy/compose/

# Cosmos renders the DAGs' dbt task groups from target/manifest.json: build it for the compose profile
# (the staged source's location is read from BILLFLOW_STAGED_URI at parse time). No database is opened.
RUN cd dbt_project \
    && rm -rf target logs \
    && BILLFLOW_STAGED_URI=s3://billflow-staged dbt parse --profiles-dir profiles/compose --target warehouse \
    && rm -rf logs \
    && test -s target/manifest.json

# Named volumes mounted on these folders take their owner and mode from the image. auth/ holds the login
# passwords file: airflow's only.
RUN mkdir -p /opt/billflow/data /opt/airflow/logs /opt/airflow/auth \
    && chown -R airflow:airflow /opt/billflow/data /opt/billflow/dbt_project /opt/airflow \
    && chmod 0700 /opt/airflow/auth

USER airflow
CMD ["airflow", "version"]
