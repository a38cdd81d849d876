// The demo's rollback command. rollout passes the reason as an environment variable, never
// spliced into a command line: print it, as a real script would log or page with it.
const { ROLLOUT_REASON, ROLLOUT_RUN_ID, ROLLOUT_FLAGS, ROLLOUT_PHASE } = process.env;
console.log(`rollback script: run ${ROLLOUT_RUN_ID}, phase ${ROLLOUT_PHASE}, flags ${ROLLOUT_FLAGS}`);
console.log(`reason: ${ROLLOUT_REASON}`);
