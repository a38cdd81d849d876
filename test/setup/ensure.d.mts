// Types for ensure.mjs (plain JavaScript so `npm test` can run it before the build).
export interface Requirement {
  name: string;
  present: () => boolean;
  apt: string;
  service?: string;
}
export interface FsLike {
  exists: (p: string) => boolean;
  list: (dir: string) => string[];
}
export function postgresBin(env?: Record<string, string | undefined>, fs?: FsLike): string | undefined;
export function requirements(env?: Record<string, string | undefined>, fs?: FsLike): Requirement[];
export function planSetup(o: { reqs: Requirement[]; isRoot: boolean; isDebian: boolean; hasApt: boolean }): {
  action: 'none' | 'apt' | 'stop';
  missing: string[];
  packages: string[];
  services: string[];
  command?: string;
};
export function servicesInstallNeeded(fs?: { exists: (p: string) => boolean; mtime: (p: string) => number }): boolean;
