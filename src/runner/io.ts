/** The process's edges as the runner and the commands see them, injected so tests run in-process. */
export type Env = Record<string, string | undefined>;

/** Subscribe to SIGINT/SIGTERM; returns the unsubscribe. */
export type SignalHooks = (handler: (sig: NodeJS.Signals) => void) => () => void;

/** Ask a yes/no question at the terminal; rejects when `signal` aborts. */
export type Prompt = (message: string, opts: { signal: AbortSignal }) => Promise<boolean>;
