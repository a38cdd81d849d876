#!/usr/bin/env python3
"""Seed 004's `python scripts/rollback_state_persistence.py`, as `rollout` calls it.

`rollout` has already turned the flags off through the feature-flag API when this runs. This
script logs what the complete rollback does; it never builds a shell command from its inputs.
The reason and context arrive as environment variables, never as arguments:
  ROLLOUT_REASON, ROLLOUT_RUN_ID, ROLLOUT_PLAN, ROLLOUT_PHASE, ROLLOUT_FLAGS.
Set ROLLBACK_DRY_RUN=0 and replace the log lines with the real steps to act.
"""
import json
import os
import sys
import time

CORE_FLAGS = ["use_state_persistence", "enable_state_snapshots", "enable_state_recovery"]


def log(msg: str) -> None:
    print(f"[rollback_state_persistence] {msg}", flush=True)


def main() -> int:
    reason = os.environ.get("ROLLOUT_REASON", "(no reason given)")
    flags = [f for f in os.environ.get("ROLLOUT_FLAGS", "").split(",") if f] or CORE_FLAGS
    log(f"run={os.environ.get('ROLLOUT_RUN_ID', '-')} plan={os.environ.get('ROLLOUT_PLAN', '-')} phase={os.environ.get('ROLLOUT_PHASE', '-')}")
    # json.dumps: the reason is data, shown quoted, never executed or spliced into a command.
    log(f"reason: {json.dumps(reason)}")
    bulk = [{"name": f, "enabled": False} for f in flags]
    log(f"would POST /feature-flags/bulk-update {json.dumps(bulk)}")
    log("would clear persisted game-state snapshots created during the rollout window")
    log(f"done at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} (dry run: {os.environ.get('ROLLBACK_DRY_RUN', '1') != '0'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
