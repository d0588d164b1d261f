// Configuration: one JSON file validated once against schema/config.schema.json (which composes the per-area
// fragments in schema/config/; ajv's code for it is generated ahead of time, tools/gen-validators.ts), every
// error listed at once, defaults filled, then frozen.
// CLI flags override file values: `--config FILE`, `--data-dir DIR`, `--log-level L`, or any key as
// `--web.port=8081`. No file at all gives the embedded default.
import { readFileSync } from 'node:fs';
import { validateConfig } from './generated/config-validator.js';

export interface Config {
  dataDir: string;
  /** src/device/restart.ts: how Reboot()/FactoryReset() restart the agent. */
  restart: 'auto' | 'exit' | 'exec';
  log: { level: string };
  cli: { socket?: string };
  device: { manufacturer: string; manufacturerOUI: string; modelName: string; productClass: string; hardwareVersion: string };
  cwmp: Record<string, unknown>;
  usp: Record<string, unknown>;
  snmp: Record<string, unknown>;
  web: Record<string, unknown>;
  wan: Record<string, unknown>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

function setDotted(target: Record<string, unknown>, key: string, raw: string) {
  const parts = key.split('.');
  let at = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof at[p] !== 'object' || at[p] === null) at[p] = {};
    at = at[p] as Record<string, unknown>;
  }
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  at[parts[parts.length - 1]] = value;
}

/** Parses argv flags into a config file path and overrides. Unknown positional arguments are errors. */
export function parseArgs(argv: string[]): { file?: string; overrides: Record<string, unknown> } {
  const overrides: Record<string, unknown> = {};
  let file: string | undefined;
  const aliases: Record<string, string> = { 'data-dir': 'dataDir', 'log-level': 'log.level' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new ConfigError([`unexpected argument "${a}"`]);
    let [key, value] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new ConfigError([`--${key} needs a value`]);
    }
    if (key === 'config') file = value;
    else setDotted(overrides, aliases[key] ?? key, value);
  }
  return { file, overrides };
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object'
      ? merge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export function loadConfig(argv: string[] = []): Config {
  const { file, overrides } = parseArgs(argv);
  let fromFile: Record<string, unknown> = {};
  if (file) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError([`${file}: ${(e as Error).message}`]);
    }
  }
  const data = merge(fromFile, overrides);
  // Compiled ahead of time from schema/config.schema.json and schema/config/ (tools/gen-validators.ts).
  if (!validateConfig(data)) {
    throw new ConfigError((validateConfig.errors ?? []).map((e) =>
      `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${e.params.additionalProperty}"` : ''}`));
  }
  return deepFreeze(data as unknown as Config);
}
