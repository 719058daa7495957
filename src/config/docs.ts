import { z } from 'zod';
import { configSchema } from './schema.js';
import { renderSeedTable } from './seed-003.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (Array.isArray(s.type)) return s.type.includes('string') && s.type.includes('number') ? 'duration' : s.type.join(' \\| ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.additionalProperties)}`;
  return s.type ?? 'any';
}

function rangeOf(s: JsonSchema): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) parts.push(`≤ ${s.maximum}`);
  if (s.pattern) parts.push(`\`${s.pattern}\``);
  return parts.join(', ');
}

function rows(schema: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, s] of Object.entries(schema.properties ?? {})) {
    const name = `${prefix}${key}`;
    if (s.type === 'object' && s.properties) {
      rows(s, `${name}.`, out);
      continue;
    }
    const required = schema.required?.includes(key) && s.default === undefined;
    const def = s.default === undefined ? (required ? '**required**' : '—') : `\`${JSON.stringify(s.default)}\``;
    out.push(`| \`${name}\` | ${typeOf(s)} | ${def} | ${[s.description ?? '', rangeOf(s)].filter(Boolean).join(' ')} |`);
    if (s.type === 'array' && s.items?.properties) rows(s.items, `${name}[].`, out);
  }
}

/** docs/config.md, generated from the schema (`npm run docs`); test/unit/docs.test.ts fails when the file is stale. */
export function renderConfigDocs(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs`. Do not edit by hand: a test fails when this file is stale. -->',
    '',
    'perfwatch reads one YAML file: `perfwatch serve --config FILE`, else `./perfwatch.yaml` when it exists, else the defaults below',
    '(no plugins). Unknown keys are errors. An invalid file exits with status 2 and one line per bad field, naming its path',
    '(`plugins[1].stop_timeout: expected a duration like "5s" …`). Check a file without starting: `perfwatch config check --config FILE`.',
    '',
    'Precedence: defaults < file < environment < flags. **Durations** are `"500ms"`, `"5s"`, `"2m"`, `"1h"` or a plain number of seconds.',
    '**Relative paths** (`storage.path`, `plugin_dirs`, a plugin\'s `cwd`, `auth.admin_token_file`) resolve against the folder of the file',
    'they are written in: the config file, or the plugin.toml.',
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
  ];
  rows(schema, '', out);
  out.push(
    '',
    '## plugin.toml',
    '',
    'Each `<dir>/<name>/plugin.toml` under a `plugin_dirs` folder registers one plugin: the same keys as a `plugins[]` entry, under a',
    '`[plugin]` table. `id` defaults to the folder name; `cwd` defaults to the plugin\'s folder.',
    '',
    '```toml',
    '[plugin]',
    'name = "Ticker"',
    'version = "0.3.1"',
    'command = "node"',
    'args = ["ticker.js"]',
    'stop_timeout = "5s"',
    'restart = "always"',
    '```',
    '',
    '## Environment',
    '',
    '| variable | overrides |',
    '|---|---|',
    '| `PERFWATCH_ADMIN_TOKEN` | the admin token (wins over `auth.admin_token_file` and the generated file) |',
    '| `PERFWATCH_HOST`, `PERFWATCH_PORT` | `server.host`, `server.port` |',
    '| `PERFWATCH_LOG_LEVEL` | `log.level` |',
    '| `PERFWATCH_STORAGE_PATH` | `storage.path` |',
    '',
    'Flags `--host` and `--port` win over both.',
    '',
    '## Seed 003\'s MonitoringConfig',
    '',
    'Every knob of seed 003\'s `MonitoringConfig` and where it lives here (durations in ms). A test checks each config key and default',
    'against the schema above, and each rule against rules/default-rules.yaml.',
    '',
    ...renderSeedTable(),
    '',
  );
  return out.join('\n');
}
