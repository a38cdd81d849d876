#!/bin/sh
# Seed 003's automated rollback: ./rollback-production.sh --phase <current_phase> --reason <reason>
#
# rollout runs it as [./scripts/rollback-production.sh, --phase, <phase name>] after the flags
# are off; the reason comes from $ROLLOUT_REASON (free text from a check or a human), which this
# script only prints — it is never part of a command line and never evaluated. `--reason` is
# still accepted for runs by hand.
#
# It logs the five automated steps and what each would do. Replace the `step` bodies with your
# real commands (fixed argv, values as separate arguments) to make it act.
set -eu

phase=""
reason="${ROLLOUT_REASON:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --phase) [ $# -ge 2 ] || { echo "rollback-production: --phase needs a value" >&2; exit 2; }; phase="$2"; shift 2 ;;
    --reason) [ $# -ge 2 ] || { echo "rollback-production: --reason needs a value" >&2; exit 2; }; reason="$2"; shift 2 ;;
    *) echo "rollback-production: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -n "$phase" ] || { echo "rollback-production: --phase is required" >&2; exit 2; }
case "$phase" in
  *[!A-Za-z0-9._-]*) echo "rollback-production: phase must be letters, digits, . _ -" >&2; exit 2 ;;
esac

log() { printf '[rollback-production] %s\n' "$*"; }
step() { log "step $1 ($2): would $3"; }

log "phase: $phase  run: ${ROLLOUT_RUN_ID:-manual}  plan: ${ROLLOUT_PLAN:-dojopool}"
log "reason: ${reason:-(none given)}"
step 1 "5 minutes" "route traffic back to the previous version (load balancer weight 0 for the new release)"
step 2 "15-30 minutes" "restore the database from the pre-$phase backup, if the phase changed data"
step 3 "10 minutes" "deploy the previous stable version"
step 4 "2 minutes" "clear all caches (CDN, application)"
step 5 "5 minutes" "run the automated health checks (rollout runs its own health check next)"
log "done (log-only; nothing was changed)"
