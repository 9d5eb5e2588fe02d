#!/usr/bin/env bash
# The test command (README, and CI through .ci/run): install with every extra, start a local PostgreSQL
# for the store tests, run the suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e '.[all,test]'
if [ -z "${SAFETYSCOPE_TEST_POSTGRES_URL:-}" ] && [ "$(id -u)" = 0 ]; then
  SAFETYSCOPE_TEST_POSTGRES_URL=$(bash scripts/start-postgres.sh)
  export SAFETYSCOPE_TEST_POSTGRES_URL
fi
python -m ruff check src tests benchmarks
python -m pytest "$@"
