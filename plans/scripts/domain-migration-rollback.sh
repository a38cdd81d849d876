#!/bin/sh
# Seed 001, rollback steps 2-3, run by rollout after the remote-config kill switch is off
# (step 1: {"enableDomainMigration": false, "fallbackToLegacy": true}).
#
# Steps 2 (hot fix within 2 hours) and 3 (full rollback: revert the migration on main) are code
# deployments that need a human: this script records them in the run's log, it does not push
# anything. The reason arrives in $ROLLOUT_REASON and is only printed, never evaluated.
set -eu
printf '[domain-migration-rollback] run %s, phase %s\n' "${ROLLOUT_RUN_ID:-?}" "${ROLLOUT_PHASE:-?}"
printf '[domain-migration-rollback] reason: %s\n' "${ROLLOUT_REASON:-(none given)}"
printf '%s\n' \
  '[domain-migration-rollback] 1. remote config: enableDomainMigration=false, fallbackToLegacy=true (done by rollout)' \
  '[domain-migration-rollback] 2. hot fix within 2 hours: providers.dart useRefactoredArchitecture = false, then deploy' \
  '[domain-migration-rollback] 3. if needed, full rollback: revert feature/domain-migration on main (git revert, push --force-with-lease) - DevOps'
