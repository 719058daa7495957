import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { toRuleGroups } from '../../src/alerting/promql.js';
import { loadFileRules } from '../../src/alerting/service.js';
import { buildDashboards, type Panel } from '../../src/dashboards/build.js';
import { loadConfig } from '../../src/config/load.js';
import { generatedFiles, SHIPPED_INTERVAL_MS } from '../../src/deploy/generated.js';
import { ROOT } from '../helpers/index.js';

const run = promisify(execFile);
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

async function tool(cmd: string, args: string[], cwd = ROOT): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: `${e.stdout}${e.stderr}` };
  }
}

t.test('generated files are up to date (npm run generate)', async (t) => {
  for (const [file, content] of Object.entries(await generatedFiles())) t.equal(read(file), content, `${file} is stale: run npm run generate`);
});

t.test('Prometheus and Alertmanager configs pass their own checkers', async (t) => {
  const prom = await tool('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml']);
  t.equal(prom.code, 0, prom.out);
  t.match(prom.out, /SUCCESS: 8 rules found/, 'the rule_files path reaches alerts/');
  const rules = await tool('promtool', ['check', 'rules', '--lint=all', '--lint-fatal', 'alerts/perfwatch.rules.yml']);
  t.equal(rules.code, 0, rules.out);
  const am = await tool('amtool', ['check-config', 'deploy/alertmanager/alertmanager.yml']);
  t.equal(am.code, 0, am.out);
  // every rule's alerts reach the webhook receiver, through its cooldown route
  for (const r of await loadFileRules({ default_rules: true })) {
    const res = await tool('amtool', ['config', 'routes', 'test', '--config.file=deploy/alertmanager/alertmanager.yml', '--verify.receivers=perfwatch-webhook', `perfwatch_rule=${r.id}`, `alertname=${r.alertname}`, `severity=${r.level}`]);
    t.equal(res.code, 0, `${r.id}: ${res.out}`);
  }
  const cooldownRoutes = (parse(read('deploy/alertmanager/alertmanager.yml')) as any).route.routes;
  t.same(cooldownRoutes.map((r: any) => r.repeat_interval), ['60s', '300s'], 'one route per distinct cooldown');
});

t.test('docker compose file validates (docker-compose config -q, no engine needed)', async (t) => {
  const res = await tool('docker-compose', ['-f', 'deploy/compose/docker-compose.yml', 'config', '-q']);
  t.equal(res.code, 0, res.out);
  const doc = parse(read('deploy/compose/docker-compose.yml')) as any;
  t.same(Object.keys(doc.services).sort(), ['alertmanager', 'grafana', 'otel-collector', 'perfwatch', 'prometheus']);
  // every bind mount source exists in the repository
  for (const [name, svc] of Object.entries<any>(doc.services)) {
    for (const v of svc.volumes ?? []) {
      const src = String(v).split(':')[0]!;
      if (!src.startsWith('.')) continue;
      t.ok(existsSync(path.join(ROOT, 'deploy/compose', src)), `${name}: ${src} exists`);
    }
  }
  t.match(doc.services.prometheus.volumes, ['../prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro', '../../alerts:/alerts:ro', String]);
});

t.test('fleet compose example: validates, both backends scrape both agents, each agent reads its own series', async (t) => {
  const res = await tool('docker-compose', ['-f', 'deploy/compose/fleet/docker-compose.yml', 'config', '-q']);
  t.equal(res.code, 0, res.out);
  const check = await tool('promtool', ['check', 'config', 'deploy/compose/fleet/scrape.yml']);
  t.equal(check.code, 0, check.out);
  const doc = parse(read('deploy/compose/fleet/docker-compose.yml'), { merge: true }) as any;
  t.same(Object.keys(doc.services).sort(), ['agent-a', 'agent-b', 'prometheus', 'victoriametrics']);
  for (const [name, svc] of Object.entries<any>(doc.services)) {
    for (const v of svc.volumes ?? []) {
      const src = String(v).split(':')[0]!;
      if (src.startsWith('.')) t.ok(existsSync(path.join(ROOT, 'deploy/compose/fleet', src)), `${name}: ${src} exists`);
    }
  }
  const scrape = parse(read('deploy/compose/fleet/scrape.yml')) as any;
  const job = scrape.scrape_configs[0];
  t.match(doc.services.victoriametrics.command, [/^-promscrape.config=/, String, String, String], 'VictoriaMetrics scrapes with the same file');
  const backends: Record<string, string> = { 'agent-a': 'http://prometheus:9090', 'agent-b': 'http://victoriametrics:8428' };
  for (const [agent, url] of Object.entries(backends)) {
    const c = await loadConfig({ file: path.join(ROOT, `deploy/compose/fleet/${agent}.yaml`), env: {} });
    t.equal(c.history.backend, 'prometheus', `${agent}: reads history from a backend`);
    t.equal(c.history.prometheus?.url, url, `${agent}: from ${url}`);
    t.equal(c.history.prometheus?.job, job.job_name, `${agent}: the scrape job`);
    t.ok(job.static_configs[0].targets.includes(c.history.prometheus?.instance), `${agent}: its instance is a scrape target`);
    t.equal(`${doc.services[agent].hostname}:${c.server.port}`, c.history.prometheus?.instance, `${agent}: instance = hostname:port, the default too`);
  }
});

t.test('Dockerfile: multi-stage, non-root, healthcheck, only the project\'s files and reachable registries', async (t) => {
  const text = read('deploy/Dockerfile');
  const from = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  t.ok(from.length >= 2, 'multi-stage');
  for (const image of from) t.match(image, /^node:20-bookworm-slim$/, 'official Node 20 image (Docker Hub)');
  t.match(text, /^USER node$/m);
  t.match(text, /^HEALTHCHECK .*\n?.*\/healthz/m);
  for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const src of m[1]!.trim().split(/\s+/)) t.ok(existsSync(path.join(ROOT, src)), `COPY ${src} exists in the repository`);
  }
  for (const m of text.matchAll(/^RUN (.+(?:\\\n.+)*)/gm)) {
    t.notMatch(m[1]!, /curl|wget|https?:\/\//, 'RUN fetches nothing outside apt and npm');
  }
  t.match(read('.dockerignore'), /^node_modules$/m);
});

t.test('Kubernetes manifests: structure, and the PrometheusRule equals the generated rules', async (t) => {
  const docs = parseAllDocuments(read('deploy/k8s/perfwatch.yaml')).map((d) => d.toJS() as any);
  const kinds = docs.map((d) => d.kind);
  t.same(kinds, ['ConfigMap', 'Deployment', 'Service', 'ServiceMonitor']);
  for (const d of docs) {
    t.type(d.apiVersion, 'string');
    t.type(d.metadata?.name, 'string');
  }
  const [cm, dep, svc, sm] = docs;
  t.doesNotThrow(() => parse(cm.data['perfwatch.yaml']), 'the ConfigMap holds YAML');
  t.same(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels, 'Deployment selector matches its pods');
  t.same(svc.spec.selector, dep.spec.template.metadata.labels, 'Service selects the pods');
  const container = dep.spec.template.spec.containers[0];
  t.equal(container.ports[0].name, svc.spec.ports[0].targetPort);
  t.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name, 'ServiceMonitor scrapes the Service port by name');
  t.same(sm.spec.selector.matchLabels, svc.metadata.labels);
  t.equal(container.livenessProbe.httpGet.path, '/healthz');
  t.equal(container.readinessProbe.httpGet.path, '/readyz');
  t.equal(dep.spec.template.spec.securityContext.runAsNonRoot, true);
  const rule = parse(read('deploy/k8s/prometheus-rule.yaml')) as any;
  t.equal(rule.kind, 'PrometheusRule');
  t.same(rule.spec, JSON.parse(JSON.stringify(toRuleGroups(await loadFileRules({ default_rules: true }), SHIPPED_INTERVAL_MS))));
  t.same(rule.spec, parse(read('alerts/perfwatch.rules.yml')), 'the same groups as alerts/');
});

t.test('Grafana provisioning matches the compose mounts and the scrape interval', async (t) => {
  const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as any;
  const dash = parse(read('deploy/grafana/provisioning/dashboards/perfwatch.yml')) as any;
  t.equal(ds.apiVersion, 1);
  t.equal(dash.apiVersion, 1);
  const compose = parse(read('deploy/compose/docker-compose.yml')) as any;
  const mounts: string[] = compose.services.grafana.volumes;
  t.ok(mounts.some((m) => m.startsWith('../../dashboards:') && m.split(':')[1] === dash.providers[0].options.path), 'the provider reads where the dashboards are mounted');
  const prom = parse(read('deploy/prometheus/prometheus.yml')) as any;
  const job = prom.scrape_configs.find((j: any) => j.job_name === 'perfwatch');
  t.equal(ds.datasources[0].jsonData.timeInterval, job.scrape_interval, 'timeInterval = perfwatch\'s scrape interval ($__rate_interval builds on it)');
  t.equal(ds.datasources[0].url, 'http://prometheus:9090');
});

t.test('systemd unit', async (t) => {
  const unit = read('deploy/systemd/perfwatch.service');
  t.match(unit, /^ExecStart=\/usr\/bin\/node .*bin\/perfwatch\.js serve --config /m);
  t.match(unit, /^User=perfwatch$/m);
  t.match(unit, /^KillSignal=SIGTERM$/m);
  t.match(unit, /^Delegate=yes$/m, 'perfwatch may create the plugin cgroups below the service');
  t.notMatch(unit, /ExecReload=/, 'perfwatch has no reload signal');
});

/** The grafana/dashboard-linter rules, over our JSON. */
t.test('dashboards lint', async (t) => {
  const dashboards = buildDashboards();
  const uids = new Set<string>();
  for (const [file, d] of Object.entries(dashboards)) {
    t.test(file, async (t) => {
      t.notOk(uids.has(d.uid), 'unique uid');
      uids.add(d.uid);
      t.ok(d.uid.length <= 40);
      t.equal(d.id, null);
      t.equal(d.editable, false);
      const vars = Object.fromEntries(d.templating.list.map((v) => [v.name as string, v]));
      t.equal(vars.datasource?.type, 'datasource');
      t.equal(vars.datasource?.label, 'Data Source');
      for (const name of ['job', 'instance']) {
        t.match(vars[name], { type: 'query', label: name, multi: true, includeAll: true, allValue: '.+', refresh: 2, datasource: { uid: '${datasource}' } }, `${name} variable`);
      }
      for (const v of d.templating.list) if (v.type === 'query') t.equal(v.refresh, 2, `${v.name} reloads on time change`);
      const ids = new Set<number>();
      const cells = new Set<string>();
      const panels: Panel[] = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
      for (const p of panels) {
        t.notOk(ids.has(p.id), `panel id ${p.id} unique`);
        ids.add(p.id);
        const { x, y, w, h } = p.gridPos;
        t.ok(x >= 0 && w > 0 && x + w <= 24, `${p.title}: inside 24 columns`);
        const overlaps: string[] = [];
        for (let i = x; i < x + w; i++) {
          for (let j = y; j < y + h; j++) {
            if (cells.has(`${i},${j}`)) overlaps.push(`${i},${j}`);
            cells.add(`${i},${j}`);
          }
        }
        t.same(overlaps, [], `${p.title}: overlaps no other panel`);
        if (p.type === 'row') continue;
        t.equal(p.datasource?.uid, '${datasource}', `${p.title}: templated datasource`);
        t.ok(p.title && p.description, `${p.title}: title and description`);
        t.ok(p.fieldConfig?.defaults.unit, `${p.title}: unit set`);
        t.ok(p.targets?.length, `${p.title}: has targets`);
        for (const tg of p.targets ?? []) {
          t.ok(tg.refId, 'refId');
          t.match(tg.expr, /job=~"\$job", instance=~"\$instance"/, `${p.title}: job and instance matchers`);
          for (const m of tg.expr.matchAll(/\b(rate|irate|increase)\([^[]+\[([^\]]+)\]/g)) {
            t.ok(m[2] === '$__rate_interval' || m[2] === '$__range', `${p.title}: ${m[1]} over ${m[2]}`);
          }
          for (const m of tg.expr.matchAll(/(\w+_total)\{/g)) {
            t.match(tg.expr, new RegExp(`(rate|irate|increase)\\(${m[1]}\\{`), `${p.title}: counter ${m[1]} under rate/increase`);
          }
        }
      }
    });
  }
  t.same(readdirSync(path.join(ROOT, 'dashboards')).sort(), Object.keys(dashboards).sort(), 'dashboards/ holds exactly the generated dashboards');
});

t.test('every way of starting perfwatch passes node the same flags as bin/perfwatch.js', async (t) => {
  const flags = /^#!\/usr\/bin\/env -S node (.*)$/m.exec(read('bin/perfwatch.js'))?.[1];
  t.ok(flags?.includes('--optimize-for-size') && flags.includes('--max-semi-space-size=1'), `shebang: ${flags}`);
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  t.match(pkg.scripts.start, `node ${flags} bin/perfwatch.js`, 'npm start');
  t.match(read('deploy/systemd/perfwatch.service'), `ExecStart=/usr/bin/node ${flags} /opt/perfwatch/bin/perfwatch.js`, 'systemd unit');
  t.match(read('deploy/Dockerfile'), `ENTRYPOINT ["node", ${flags!.split(' ').map((f) => JSON.stringify(f)).join(', ')}, "bin/perfwatch.js"]`, 'Dockerfile');
});
