import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { issuesToProblems } from '../model/issues.js';
import { configSchema, pluginSchema, type ParsedConfig, type PluginConfig } from './schema.js';

export { formatPath, issuesToProblems } from '../model/issues.js';

/** Where a plugin's definition came from, so that reload can re-read exactly that source. */
export type PluginSource = { kind: 'config'; file: string | null } | { kind: 'toml'; file: string };

export interface PluginDefinition extends Omit<PluginConfig, 'name'> {
  name: string;
  /** Absolute working directory. */
  cwd: string;
  source: PluginSource;
}

export interface Config extends Omit<ParsedConfig, 'plugins'> {
  /** The config file read, or null for built-in defaults. */
  file: string | null;
  plugins: PluginDefinition[];
}

/** A configuration that cannot be used; `problems` holds one line per bad field, each naming its path. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** Config file; when undefined, ./perfwatch.yaml if it exists, else defaults. */
  file?: string;
  /** Flags win over the file and the environment. */
  overrides?: { host?: string; port?: number };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}


/**
 * Loads, validates and resolves the configuration: defaults < file < environment < flags. Throws ConfigError listing
 * every bad field; never returns a partly valid config.
 */
export async function loadConfig(opts: LoadOptions = {}): Promise<Config> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  let file: string | null = null;
  if (opts.file !== undefined) file = path.resolve(cwd, opts.file);
  else if (await exists(path.join(cwd, 'perfwatch.yaml'))) file = path.join(cwd, 'perfwatch.yaml');

  const raw = file ? await readYaml(file) : {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`${file}: expected a mapping at the top level`]);
  }
  const doc = raw as Record<string, unknown>;
  applyEnv(doc, env);
  if (opts.overrides?.host !== undefined) doc.server = { ...(doc.server as object), host: opts.overrides.host };
  if (opts.overrides?.port !== undefined) doc.server = { ...(doc.server as object), port: opts.overrides.port };

  const parsed = configSchema.safeParse(doc);
  if (!parsed.success) throw new ConfigError(issuesToProblems(parsed.error.issues).map((p) => (file ? `${p}` : p)));
  const baseDir = file ? path.dirname(file) : cwd;
  const cfg = parsed.data;

  const plugins: PluginDefinition[] = cfg.plugins.map((p) => toDefinition(p, baseDir, { kind: 'config', file }));
  const problems: string[] = [];
  const pluginDirs = cfg.plugin_dirs.map((d) => path.resolve(baseDir, d));
  for (const dir of pluginDirs) {
    for (const tomlFile of await listPluginTomls(dir, problems)) {
      try {
        plugins.push(await readPluginToml(tomlFile));
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
    }
  }
  const seen = new Map<string, PluginDefinition>();
  for (const p of plugins) {
    const prior = seen.get(p.id);
    if (prior) problems.push(`plugin id "${p.id}" is defined twice: in ${describeSource(prior.source)} and in ${describeSource(p.source)}`);
    seen.set(p.id, p);
  }
  if (problems.length) throw new ConfigError(problems);

  return deepFreeze({
    ...cfg,
    file,
    storage: { path: path.resolve(baseDir, cfg.storage.path) },
    auth: { ...cfg.auth, admin_token_file: cfg.auth.admin_token_file ? path.resolve(baseDir, cfg.auth.admin_token_file) : undefined },
    alerting: {
      ...cfg.alerting,
      rules_file: cfg.alerting.rules_file ? path.resolve(baseDir, cfg.alerting.rules_file) : undefined,
      webhook: cfg.alerting.webhook && { ...cfg.alerting.webhook, secret_file: cfg.alerting.webhook.secret_file ? path.resolve(baseDir, cfg.alerting.webhook.secret_file) : undefined },
      channels: cfg.alerting.channels.map((c) => ({
        ...c,
        secret_file: c.secret_file === undefined ? undefined : path.resolve(baseDir, c.secret_file),
        smtp: c.smtp && { ...c.smtp, password_file: c.smtp.password_file === undefined ? undefined : path.resolve(baseDir, c.smtp.password_file) },
      })),
    },
    reports: { ...cfg.reports, schedules: cfg.reports.schedules.map((sch) => ({ ...sch, deliver: sch.deliver.map((d) => (d.file === undefined ? d : { ...d, file: path.resolve(baseDir, d.file) })) })) },
    history: { ...cfg.history, prometheus: cfg.history.prometheus && resolveBackendFiles(cfg.history.prometheus, baseDir) },
    plugin_dirs: pluginDirs,
    plugins,
  });
}

/** Re-reads one plugin's definition from the source it came from (the config file or its plugin.toml). */
export async function reloadPluginDefinition(current: PluginDefinition): Promise<PluginDefinition> {
  if (current.source.kind === 'toml') return readPluginToml(current.source.file);
  const file = current.source.file;
  if (!file) return current; // built-in defaults have no file to re-read
  const cfg = await loadConfig({ file });
  const next = cfg.plugins.find((p) => p.id === current.id && p.source.kind === 'config');
  if (!next) throw new ConfigError([`plugin "${current.id}" is no longer defined in ${file}`]);
  return next;
}

export async function readPluginToml(file: string): Promise<PluginDefinition> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([`${file}: ${(err as Error).message.split('\n')[0]}`]);
  }
  const table = doc.plugin;
  if (table === null || typeof table !== 'object' || Array.isArray(table)) {
    throw new ConfigError([`${file}: expected a [plugin] table`]);
  }
  const dir = path.dirname(file);
  const withId = { id: path.basename(dir), ...(table as Record<string, unknown>) };
  const parsed = pluginSchema.safeParse(withId);
  if (!parsed.success) throw new ConfigError(issuesToProblems(parsed.error.issues, `${file}: plugin.`));
  return toDefinition(parsed.data, dir, { kind: 'toml', file });
}

/** The history backend's files, relative to the config file like every path in it. */
function resolveBackendFiles(p: NonNullable<ParsedConfig['history']['prometheus']>, baseDir: string) {
  const abs = (f: string | undefined) => (f === undefined ? undefined : path.resolve(baseDir, f));
  return {
    ...p,
    basic_auth: p.basic_auth && { ...p.basic_auth, password_file: abs(p.basic_auth.password_file)! },
    bearer_token_file: abs(p.bearer_token_file),
    tls: { ...p.tls, ca_file: abs(p.tls.ca_file), cert_file: abs(p.tls.cert_file), key_file: abs(p.tls.key_file) },
  };
}

function toDefinition(p: PluginConfig, baseDir: string, source: PluginSource): PluginDefinition {
  return { ...p, name: p.name ?? p.id, cwd: path.resolve(baseDir, p.cwd), source };
}

function describeSource(s: PluginSource): string {
  return s.kind === 'toml' ? s.file : s.file ?? 'the built-in config';
}

async function readYaml(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  return doc.toJS() ?? {};
}

/** Environment overrides, documented in docs/config.md. */
function applyEnv(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const server = { ...((doc.server as object) ?? {}) } as Record<string, unknown>;
  if (env.PERFWATCH_HOST) server.host = env.PERFWATCH_HOST;
  if (env.PERFWATCH_PORT) server.port = /^\d+$/.test(env.PERFWATCH_PORT) ? Number(env.PERFWATCH_PORT) : env.PERFWATCH_PORT;
  if (Object.keys(server).length) doc.server = server;
  if (env.PERFWATCH_LOG_LEVEL) doc.log = { ...((doc.log as object) ?? {}), level: env.PERFWATCH_LOG_LEVEL };
  if (env.PERFWATCH_STORAGE_PATH) doc.storage = { ...((doc.storage as object) ?? {}), path: env.PERFWATCH_STORAGE_PATH };
}

async function listPluginTomls(dir: string, problems: string[]): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    problems.push(`plugin_dirs: cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return [];
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isDirectory()) continue;
    const f = path.join(dir, e.name, 'plugin.toml');
    if (await exists(f)) out.push(f);
  }
  return out;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
