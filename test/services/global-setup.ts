// Placeholder: the services harness (PostgreSQL, Unleash, Prometheus) replaces this.
export default async function setup(): Promise<void> {}
