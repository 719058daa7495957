import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config/load.js';
import { startPerfwatch, StartupError, type Perfwatch } from './main.js';
import { VERSION } from './version.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { renderRuleFile } from './alerting/promql.js';
import type { Rule } from './alerting/rule.js';
import { loadFileRules, storedRules } from './alerting/service.js';
import { AlertStore } from './alerting/store.js';
import { ExportError, readToken, runExport } from './export-cli.js';
import { parseDuration } from './config/duration.js';
import { renderOnce, runTop } from './top/index.js';

const USAGE = `perfwatch ${VERSION}: plugin supervisor and monitoring agent

Usage:
  perfwatch serve [--config FILE] [--host HOST] [--port PORT]
      Run the exporter. Without --config, ./perfwatch.yaml if present, else host-only defaults.
  perfwatch config check [--config FILE]
      Validate the configuration (and its alert rules) and exit: 0 when valid, 2 with one line per bad field.
  perfwatch rules export [--config FILE]
      Print every enabled alert rule (defaults, rules_file, and API rules from <storage.path>/perfwatch.db) as
      Prometheus alerting-rule YAML over the names /metrics exposes (docs/alerting.md).
  perfwatch export [--format json|csv] [--layout long|per-plugin] [--plugin ID] [--since ISO] [--until ISO | --period 1h|6h|24h|7d|30d|90d]
                   [--out FILE|DIR] [--bom] [--url URL] [--token-file FILE] [--config FILE]
      Stream the monitoring data of a running perfwatch (default the one --config describes, on 127.0.0.1) to files
      named as seed 003 names them: monitoring_data_<time>.json, metrics_<time>.csv, or metrics_<id>_<time>.csv per
      plugin. Token: PERFWATCH_ADMIN_TOKEN, else --token-file, else <storage.path>/admin_token.
  perfwatch top [--once] [--interval 1s] [--url URL] [--token-file FILE] [--config FILE]
      A live terminal view of a running perfwatch (host, plugins, alerts; keys: ? for help). --once prints seed 003's
      dashboard as plain text and exits. NO_COLOR turns colour off.
  perfwatch --version | --help

Exit status: 0 on a clean stop (SIGTERM/SIGINT), 1 on a runtime failure, 2 on bad usage or configuration.
`;

/** Parses the command line and runs; never returns a rejected promise (exits with a status instead). */
export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        // export
        format: { type: 'string' },
        layout: { type: 'string' },
        plugin: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        period: { type: 'string' },
        out: { type: 'string', short: 'o' },
        bom: { type: 'boolean' },
        url: { type: 'string' },
        'token-file': { type: 'string' },
        // top
        once: { type: 'boolean' },
        interval: { type: 'string' },
      },
    });
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return void process.stdout.write(USAGE);
  if (values.version) return void process.stdout.write(`${VERSION}\n`);
  const command = positionals.join(' ');
  let port: number | undefined;
  if (values.port !== undefined) {
    if (!/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) return usageError(`--port: expected 0 to 65535, got "${values.port}"`);
    port = Number(values.port);
  }

  if (command === 'export') return exportCommand(values);
  if (command === 'top') return topCommand(values);
  if (command !== 'serve' && command !== 'config check' && command !== 'rules export') {
    return usageError(command ? `unknown command "${command}"` : 'no command given');
  }
  let config;
  let fileRules;
  try {
    config = await loadConfig({ file: values.config, overrides: { host: values.host, port } });
    fileRules = await loadFileRules(config.alerting);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`perfwatch: invalid configuration${values.config ? ` in ${values.config}` : ''}:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (command === 'config check') {
    process.stdout.write(`${config.file ?? 'built-in defaults'}: valid (${config.plugins.length} plugins, ${fileRules.length} alert rules from files)\n`);
    return;
  }
  if (command === 'rules export') {
    const db = path.join(config.storage.path, 'perfwatch.db');
    let apiRules: Rule[] = [];
    if (existsSync(db)) {
      const store = new AlertStore(db, { historyLimit: config.alerting.history_limit, readonly: true });
      apiRules = storedRules(store, (id, problem) => process.stderr.write(`perfwatch: stored rule ${id} skipped: ${problem}\n`));
      store.close();
    }
    process.stdout.write(renderRuleFile([...fileRules, ...apiRules], config.collection.interval));
    return;
  }

  const logger = pino({ level: config.log.level, base: { pid: process.pid } });
  // Handlers first: a SIGTERM that arrives while perfwatch is still starting (plugins spawning) must still stop them.
  let pw: Perfwatch | null = null;
  let stopRequested = false;
  let signals = 0;
  const stopAndExit = () => void pw!.stop().then(() => process.exit(0));
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without waiting for plugins');
      process.exit(1);
    }
    logger.info({ signal }, 'stopping');
    if (pw) stopAndExit();
    else stopRequested = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    pw = await startPerfwatch({ config, logger });
  } catch (err) {
    if (err instanceof StartupError || (err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EACCES') {
      logger.fatal({ code: (err as NodeJS.ErrnoException).code }, (err as Error).message);
      process.exit(1);
    }
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
  if (stopRequested) stopAndExit();
}

/** The perfwatch a client command talks to: --url, else the one --config describes (on 127.0.0.1), and its token file. */
async function clientTarget(v: Record<string, string | boolean | undefined>): Promise<{ url: string; tokenFile: string | undefined } | null> {
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  let url = str('url');
  let tokenFile = str('token-file');
  if (url === undefined || tokenFile === undefined) {
    try {
      const config = await loadConfig({ file: str('config') });
      const host = config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
      url ??= `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
      tokenFile ??= config.auth.admin_token_file ?? path.join(config.storage.path, 'admin_token');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      usageError(`--config: ${err.problems[0]}`);
      return null;
    }
  }
  if (!/^https?:\/\//.test(url)) {
    usageError(`--url: expected http:// or https://, got "${url}"`);
    return null;
  }
  return { url, tokenFile };
}

async function exportCommand(v: Record<string, string | boolean | undefined>): Promise<void> {
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const format = str('format') ?? 'json';
  if (format !== 'json' && format !== 'csv') return usageError(`--format: expected json or csv, got "${format}"`);
  const layout = str('layout') ?? (str('plugin') === undefined ? 'long' : 'per-plugin');
  if (layout !== 'long' && layout !== 'per-plugin') return usageError(`--layout: expected long or per-plugin, got "${layout}"`);
  const target = await clientTarget(v);
  if (!target) return;
  const token = readToken(process.env, target.tokenFile);
  if (!token) return usageError(`no admin token: set PERFWATCH_ADMIN_TOKEN or --token-file (tried ${target.tokenFile})`);
  try {
    const files = await runExport({ url: target.url, token, format, layout, plugin: str('plugin'), since: str('since'), until: str('until'), period: str('period'), bom: v.bom === true, out: str('out') });
    for (const f of files) process.stdout.write(`${f}\n`);
  } catch (err) {
    if (!(err instanceof ExportError)) throw err;
    process.stderr.write(`perfwatch export: ${err.message}\n`);
    process.exit(1);
  }
}

async function topCommand(v: Record<string, string | boolean | undefined>): Promise<void> {
  const target = await clientTarget(v);
  if (!target) return;
  const token = readToken(process.env, target.tokenFile);
  if (v.once === true) {
    try {
      process.stdout.write(await renderOnce(target.url, token));
    } catch (err) {
      process.stderr.write(`perfwatch top: cannot read ${target.url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}\n`);
      process.exit(1);
    }
    return;
  }
  if (!process.stdout.isTTY || !process.stdin.isTTY) return usageError('top needs a terminal (use --once for plain text)');
  const interval = typeof v.interval === 'string' ? parseDuration(v.interval) : 1000;
  if (interval === null || interval < 100) return usageError(`--interval: expected a duration of at least 100ms, got "${String(v.interval)}"`);
  // NO_COLOR (no-color.org): any non-empty value turns colour off
  const color = !process.env.NO_COLOR && process.stdout.hasColors?.() !== false;
  process.exit(await runTop({ url: target.url, token, intervalMs: interval, input: process.stdin, output: process.stdout, color }));
}

function usageError(message: string): void {
  process.stderr.write(`perfwatch: ${message}\n\n${USAGE}`);
  process.exit(2);
}
