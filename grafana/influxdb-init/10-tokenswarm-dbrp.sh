#!/bin/sh
# Runs once, after the influxdb:2.x image has created its org, bucket and admin token.
# InfluxQL (Grafana's dashboards) and the v1 /write endpoint reach a 2.x bucket through a
# database/retention-policy (DBRP) mapping: map database "$TOKENSWARM_DB" to the bucket.
set -eu
db="${TOKENSWARM_DB:-tokenswarm}"
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "$db" --rp autogen --default
echo "tokenswarm: InfluxQL database '$db' -> bucket '${DOCKER_INFLUXDB_INIT_BUCKET}'"
