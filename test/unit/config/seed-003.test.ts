import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { z } from 'zod';
import { configSchema } from '../../../src/config/schema.js';
import { SEED_003_KNOBS } from '../../../src/config/seed-003.js';

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  default?: unknown;
}

/** The JSON schema of `a.b[].c`, or null when the schema has no such key. */
function at(root: JsonSchema, key: string): JsonSchema | null {
  let s: JsonSchema | undefined = root;
  for (const part of key.split('.')) {
    const list = part.endsWith('[]');
    s = s?.properties?.[list ? part.slice(0, -2) : part];
    if (s && list) s = s.items;
    if (!s) return null;
  }
  return s;
}

// the seed's MonitoringConfig examples, copied verbatim into the repository (CI has no ../shared)
const seed = readFileSync(path.resolve(import.meta.dirname, '../../fixtures/seed-003-monitoring-config.py'), 'utf8');

t.test('every knob of seed 003\'s MonitoringConfig is in the table, and every row is true', async (t) => {
  // the knobs as the seed writes them: `name=` in MonitoringConfig(...) and 'name': in its dicts
  const knobs = new Set<string>();
  const block = /MonitoringConfig\(([\s\S]*?)\n\)/g;
  for (const m of seed.matchAll(block)) {
    let section = '';
    for (const line of m[1]!.split('\n')) {
      const top = /^\s{4}(\w+)=\{?/.exec(line);
      if (top) {
        section = line.trimEnd().endsWith('{') ? top[1]! : '';
        if (!section) knobs.add(top[1]!);
        continue;
      }
      const inner = /^\s+'(\w+)':/.exec(line);
      if (inner && section) knobs.add(`${section}.${inner[1]}`);
    }
  }
  t.ok(knobs.size >= 18, `the seed's knobs found (${knobs.size})`);
  const rows = new Set(SEED_003_KNOBS.map((k) => k.knob));
  for (const k of knobs) t.ok(rows.has(k), `${k} has a row`);

  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rules = (parse(readFileSync(path.resolve(import.meta.dirname, '../../../rules/default-rules.yaml'), 'utf8')) as { rules: Array<{ name: string; threshold: number }> }).rules;
  for (const k of SEED_003_KNOBS) {
    if (k.kind === 'config') {
      const s = at(schema, k.target);
      t.ok(s, `${k.knob} → ${k.target} is a config key`);
      // durations' defaults are written as text ("10s"); the table gives the parsed value in ms
      const parsed = (configSchema as z.ZodType).safeParse({ plugins: [{ id: 'x', command: 'x', health_checks: [{ name: 'c', type: 'tcp', address: 'h:1' }] }], alerting: { channels: [{ name: 'c', type: 'slack', url: 'http://x/' }] } });
      t.ok(parsed.success);
      const value = k.target.split('.').reduce<unknown>((v, part) => {
        const list = part.endsWith('[]');
        const next = (v as Record<string, unknown>)[list ? part.slice(0, -2) : part];
        return list ? (next as unknown[])[0] : next;
      }, parsed.data);
      t.equal(JSON.stringify(value), k.value, `${k.target} defaults to ${k.value}`);
    } else if (k.kind === 'rule') {
      const rule = rules.find((r) => r.name === k.target);
      t.ok(rule, `rule ${k.target} is shipped`);
      t.equal(String(rule?.threshold), k.value, `${k.target}'s threshold is ${k.value}`);
    }
  }
});
