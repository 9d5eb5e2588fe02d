#!/usr/bin/env bash
# Install (Debian's postgresql package) and start a local PostgreSQL server for the store tests, then print
# the URL to use as SAFETYSCOPE_TEST_POSTGRES_URL. Idempotent: safe to run when it is already up.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='safetyscope'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE safetyscope LOGIN SUPERUSER PASSWORD 'safetyscope'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='safetyscope_test'\"" | grep -q 1 ||
  su postgres -c "createdb -O safetyscope safetyscope_test"
echo "postgresql://safetyscope:safetyscope@127.0.0.1:5432/safetyscope_test"
