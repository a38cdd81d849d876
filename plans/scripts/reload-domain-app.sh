#!/bin/sh
# Seed 000: the app reads DOMAIN_ADAPTERS_ENABLED / DOMAIN_ROLLOUT_PERCENTAGE from its
# environment, so it must be restarted after the env file changes. The env-file backend runs
# this after every write with ROLLOUT_FLAG, ROLLOUT_ENABLED, ROLLOUT_PERCENTAGE and
# ROLLOUT_ENV_FILE in the environment.
#
# It only logs what it would do. To act, set DOMAIN_RELOAD=1 and replace the echo with your
# restart, e.g. `docker compose up -d app` (fixed argv: never build a command from values).
set -eu
echo "[reload-domain-app] ${ROLLOUT_ENV_FILE:-?}: ${ROLLOUT_FLAG:-?} enabled=${ROLLOUT_ENABLED:-?} percentage=${ROLLOUT_PERCENTAGE:-?}"
if [ "${DOMAIN_RELOAD:-0}" = "1" ]; then
  echo "[reload-domain-app] DOMAIN_RELOAD=1 but no restart command is configured in this script" >&2
  exit 1
fi
echo "[reload-domain-app] would restart the app (docker compose up -d app) so it re-reads its environment"
