import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';

/**
 * The one-way import rules of docs/architecture.md, checked on every file under src/: a file may import its own
 * layer and the layers listed for it here, nothing else. Type-only imports count too: a type is a dependency.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  model: [],
  version: [],
  proc: ['model'],
  config: ['model'],
  store: ['model'],
  pipeline: ['model'],
  // worker threads kept across jobs, for work that would hold the event loop
  threads: [],
  http: ['model'],
  collectors: ['model', 'proc', 'config'],
  supervisor: ['model', 'proc', 'config'],
  ingest: ['model', 'store', 'http'],
  // serves the built web console (ui/ → dist/ui): files, not data
  console: ['http'],
  // plugin control, health and the plugins' own reports: the service-metrics store is written here
  api: ['model', 'http', 'supervisor', 'store'],
  'sinks/prometheus': ['model', 'store', 'pipeline'],
  'sinks/otlp': ['model', 'store', 'pipeline'],
  'sinks/ws': ['model', 'pipeline'],
  // the plugin documents (seed 002) are views of the supervisor's plugin list
  'sinks/compat': ['model', 'proc', 'store', 'http', 'supervisor'],
  alerting: ['model', 'store', 'http', 'config', 'pipeline'],
  // performance reports: read the stores through functions main.ts passes; files and SQLite of their own
  reports: ['model', 'store', 'http', 'config', 'threads'],
  // request profiling (seed 004): the records the SDK sends, their SQLite store and RED series
  profiling: ['model', 'http', 'config', 'threads'],
  client: [],
  // perfwatch/plugin, the SDK plugins import: nothing of perfwatch comes along
  'plugin-sdk': [],
  // perfwatch top: a client of the HTTP API (through client/) and of the WebSocket
  top: ['client'],
  // generators of committed files (alerts/, dashboards/, deploy/): they read the catalogues and the rule model
  dashboards: ['model', 'alerting', 'config', 'version'],
  deploy: ['model', 'alerting', 'config', 'dashboards', 'version'],
  root: ['*'],
};

const SRC = path.resolve(import.meta.dirname, '../../src');

function layerOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  if (rel.length === 1) return rel[0] === 'version.ts' ? 'version' : 'root';
  return rel[0] === 'sinks' ? `sinks/${rel[1]}` : rel[0]!;
}

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

/** Relative module specifiers of static imports and exports, and of dynamic `import()`. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) out.push((m[1] ?? m[2])!);
  return out;
}

t.test('imports run one way: each layer imports only the layers below it', async (t) => {
  const violations: string[] = [];
  let edges = 0;
  for (const file of sources(SRC)) {
    const from = layerOf(file);
    const allowed = MAY_IMPORT[from];
    if (!allowed) {
      violations.push(`${path.relative(SRC, file)}: layer "${from}" is not in the rules (add it to this test and docs/architecture.md)`);
      continue;
    }
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(SRC + path.sep)) continue;
      edges++;
      const to = layerOf(target.replace(/\.js$/, '.ts'));
      if (to === from || allowed.includes('*') || allowed.includes(to)) continue;
      violations.push(`${path.relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  t.ok(edges > 150, `read the import graph (${edges} edges)`);
  t.same(violations, [], 'no import runs the wrong way');
});

t.test('the rule checker sees the imports it must see', async (t) => {
  t.same(importsOf(`import { a } from './a.js';\nimport type {\n  B,\n} from '../b.js';\nexport { c } from './c.js';\nconst d = await import('./d.js');`), ['./a.js', '../b.js', './c.js', './d.js']);
  t.equal(layerOf(path.join(SRC, 'sinks/ws/hub.ts')), 'sinks/ws');
  t.equal(layerOf(path.join(SRC, 'main.ts')), 'root');
});
