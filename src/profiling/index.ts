import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Router from '@koa/router';
import type { Context } from 'koa';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Config } from '../config/load.js';
import { ApiError } from '../http/api-error.js';
import { bearerMatches, type AdminMiddleware } from '../http/auth.js';
import { readJson } from '../http/body.js';
import { successEnvelope } from '../http/envelope.js';
import { textParam } from '../http/params.js';
import type { AppRequestListener } from '../model/app-requests.js';
import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';
import { StartupError } from '../model/errors.js';
import { M } from '../model/metric-names.js';
import { complete, findings, prompt, ProviderError, type ProviderConfig } from './analysis.js';
import { addQueryRoutes, recordOf } from './queries.js';
import { parseRecord, parseRouteProfile, type RecordInput, type RouteProfileInput } from './record.js';
import { ProfilingStore } from './store.js';

/** Latency buckets of the per-route histogram, seconds: web requests from 5 ms to 10 s. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OTHER = '<other>';
const PRUNE_EVERY_MS = 60_000;
/** Route profiles a batch may carry (the SDK sends one per route seen in a flush window). */
const MAX_ROUTE_PROFILES = 200;

export interface ProfilingOptions {
  config: Config;
  registry: Registry;
  clock: Clock;
  requireAdmin: AdminMiddleware;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  env: NodeJS.ProcessEnv;
  /** The accepted requests and route CPU, with bounded route labels: the OTLP push records them. */
  onRequests?: AppRequestListener;
}

/**
 * Request profiling (seed 004, docs/profiling.md): `POST collect` and `POST batch` take the records the SDK sends,
 * authenticated by the project's key; the records go to SQLite and to per-route RED series on /metrics; the admin
 * reads them back (list with filters, one with its tree, per-route statistics, speedscope export).
 */
export function createProfiling(o: ProfilingOptions): { router: Router; analysisRouter: Router; component: Component } {
  const c = o.config.profiling;
  const ok = successEnvelope(o.clock);
  let store: ProfilingStore | null = null;
  let pruner: ReturnType<typeof setInterval> | null = null;
  const live = () => {
    if (!store) throw new ApiError('SHUTTING_DOWN', 'profiling is not running');
    return store;
  };

  const requests = new Counter({ name: M.profilingRequestsTotal, help: 'Requests the apps reported through the SDK, by route template (bounded by profiling.max_routes; further routes count as <other>) and status class.', labelNames: ['project', 'route', 'method', 'status_class'], registers: [o.registry] });
  const duration = new Histogram({ name: M.profilingRequestDurationSeconds, help: 'Duration of the requests the apps reported, by route template.', labelNames: ['project', 'route', 'method'], buckets: BUCKETS, registers: [o.registry] });
  const received = new Counter({ name: M.profilingRecordsTotal, help: 'Records received on collect and batch, by result (accepted, rejected: failed validation, unauthorized: bad project key).', labelNames: ['result'], registers: [o.registry] });
  for (const result of ['accepted', 'rejected', 'unauthorized']) received.inc({ result }, 0);
  const sampledCpu = new Counter({ name: M.profilingSampledCpuSecondsTotal, help: 'CPU time the apps\' samplers saw in each route (samples × interval), from the route profiles of SDKs with the profiler on.', labelNames: ['project', 'route', 'method'], registers: [o.registry] });
  const routesSeen = new Map<string, Set<string>>();
  /** The route label: the template while the project has fewer than max_routes, else `<other>`. */
  const routeLabel = (project: string, route: string) => {
    let seen = routesSeen.get(project);
    if (!seen) routesSeen.set(project, (seen = new Set()));
    if (seen.has(route)) return route;
    if (seen.size >= c.max_routes) return OTHER;
    seen.add(route);
    return route;
  };

  /** Projects made through the API, by the SHA-256 of their key (hex): loaded at start, kept in step with the store. */
  const apiProjects = new Map<string, string>();
  const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');
  const projectOf = (ctx: Context, body: unknown): string => {
    const key = ctx.get('x-project-key') || (typeof (body as { project_key?: unknown })?.project_key === 'string' ? (body as { project_key: string }).project_key : '');
    const fromConfig = key ? c.projects.find((x) => bearerMatches(`Bearer ${x.key}`, key)) : undefined;
    // an API project's key is looked up by its hash: the map lookup does not compare the secret itself
    const apiName = !fromConfig && key && key.length <= 256 ? apiProjects.get(sha256(key)) : undefined;
    const p = fromConfig ?? (apiName ? { name: apiName } : undefined);
    if (!p) {
      received.inc({ result: 'unauthorized' });
      throw new ApiError('PROJECT_KEY_INVALID', key ? 'the project key is not one of profiling.projects' : 'send the project key as X-Project-Key (or "project_key" in the body)');
    }
    return p.name;
  };

  const accept = (project: string, records: RecordInput[]): string[] => {
    const ids = live().insert(project, records, o.clock.now());
    const reported = records.map((r) => {
      const route = routeLabel(project, r.route);
      requests.inc({ project, route, method: r.method, status_class: `${Math.floor(r.status / 100)}xx` });
      duration.observe({ project, route, method: r.method }, r.duration_ms / 1000);
      return { route, method: r.method, status: r.status, seconds: r.duration_ms / 1000 };
    });
    o.onRequests?.(project, reported, []);
    received.inc({ result: 'accepted' }, records.length);
    return ids;
  };
  const acceptProfiles = (project: string, profiles: RouteProfileInput[]) => {
    live().insertRouteProfiles(project, profiles, o.clock.now());
    const cpu = profiles.map((p) => ({ route: routeLabel(project, p.route), method: p.method, seconds: p.tree.root_frame.time }));
    for (const c of cpu) sampledCpu.inc({ project, route: c.route, method: c.method }, c.seconds);
    o.onRequests?.(project, [], cpu);
  };
  const limits = { maxNodes: c.max_nodes };
  const router = new Router({ prefix: '/api/v1/performance' });

  // seed 004: one record
  router.post('/collect', async (ctx) => {
    const body = await readJson(ctx, o.config.server.body_limit);
    const project = projectOf(ctx, body);
    const parsed = parseRecord(body, '', limits);
    if ('field' in parsed) {
      received.inc({ result: 'rejected' });
      throw new ApiError('INVALID_JSON', parsed.message, { field: parsed.field });
    }
    const [id] = accept(project, [parsed.record]);
    ctx.body = ok({ record_id: id, project });
  });

  // seed 004: many; each record is accepted or rejected on its own, errors by index
  router.post('/batch', async (ctx) => {
    const body = await readJson(ctx, o.config.server.body_limit);
    const project = projectOf(ctx, body);
    const list = (body as { records?: unknown })?.records;
    if (!Array.isArray(list)) throw new ApiError('INVALID_JSON', 'records: expected an array of records', { field: 'records' });
    if (list.length > c.max_batch) throw new ApiError('BATCH_TOO_LARGE', `records: ${list.length} records, more than profiling.max_batch (${c.max_batch}); nothing was stored`, { field: 'records' });
    const rp = (body as { route_profiles?: unknown }).route_profiles ?? [];
    if (!Array.isArray(rp)) throw new ApiError('INVALID_JSON', 'route_profiles: expected an array of route profiles', { field: 'route_profiles' });
    if (rp.length > MAX_ROUTE_PROFILES) throw new ApiError('BATCH_TOO_LARGE', `route_profiles: ${rp.length} profiles, more than ${MAX_ROUTE_PROFILES}; nothing was stored`, { field: 'route_profiles' });
    const good: RecordInput[] = [];
    const at: number[] = [];
    const errors: Array<{ index: number; field: string; message: string }> = [];
    list.forEach((r, i) => {
      const parsed = parseRecord(r, `records[${i}].`, limits);
      if ('field' in parsed) errors.push({ index: i, field: parsed.field, message: parsed.message });
      else (good.push(parsed.record), at.push(i));
    });
    if (errors.length) received.inc({ result: 'rejected' }, errors.length);
    const profiles: RouteProfileInput[] = [];
    const profileErrors: Array<{ index: number; field: string; message: string }> = [];
    rp.forEach((p, i) => {
      const parsed = parseRouteProfile(p, `route_profiles[${i}].`, limits);
      if ('field' in parsed) profileErrors.push({ index: i, field: parsed.field, message: parsed.message });
      else profiles.push(parsed.profile);
    });
    const ids = good.length ? accept(project, good) : [];
    if (profiles.length) acceptProfiles(project, profiles);
    // `Prefer: return=minimal` (RFC 7240, what the SDK sends): the ids are left out, a sender that never reads them
    // should not parse one per record
    const minimal = /(?:^|[,;\s])return=minimal(?:$|[,;\s])/i.test(ctx.get('prefer'));
    if (minimal) ctx.set('Preference-Applied', 'return=minimal');
    ctx.body = ok({ accepted: ids.length, rejected: errors.length, ...(minimal ? {} : { record_ids: ids }), errors, ...(rp.length ? { route_profiles_accepted: profiles.length, route_profile_errors: profileErrors } : {}) });
  });

  addQueryRoutes(router, { requireAdmin: o.requireAdmin, clock: o.clock, ok, live });

  // projects through the API (the config's are read-only here); a key is made here and shown once
  const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
  router.get('/projects', o.requireAdmin, (ctx) => {
    ctx.body = ok({
      projects: [
        ...c.projects.map((p) => ({ name: p.name, source: 'config', created_at: null })),
        ...live().projects().map((p) => ({ name: p.name, source: 'api', created_at: new Date(p.createdMs).toISOString() })),
      ],
    });
  });
  router.post('/projects', o.requireAdmin, async (ctx) => {
    const body = await readJson(ctx, 4096);
    const name = (body as { name?: unknown })?.name;
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw new ApiError('INVALID_JSON', 'name: expected 1 to 64 characters from A-Z a-z 0-9 _ . -', { field: 'name' });
    if (c.projects.some((p) => p.name === name) || live().projects().some((p) => p.name === name)) throw new ApiError('PROJECT_EXISTS', `project ${name} exists already`, { field: 'name' });
    const key = `pwk_${randomBytes(24).toString('base64url')}`;
    live().addProject(name, sha256(key), o.clock.now());
    apiProjects.set(sha256(key), name);
    ctx.body = ok({ name, key, note: 'the key is shown this once; perfwatch keeps only its hash' });
  });
  router.delete('/projects/:name', o.requireAdmin, (ctx) => {
    const name = ctx.params.name!;
    if (c.projects.some((p) => p.name === name)) throw new ApiError('PROJECT_READ_ONLY', `project ${name} comes from profiling.projects in the config file; change it there`);
    const gone = live().projects().find((p) => p.name === name);
    if (!gone || !live().deleteProject(name)) throw new ApiError('PROJECT_NOT_FOUND', `no project ${name.slice(0, 64)}`);
    apiProjects.delete(gone.keySha256);
    ctx.body = ok({ name, deleted: true });
  });

  // analysis (seed 004's analyze): one job at a time, in the background; the rules always, the provider when configured
  const a = c.analysis;
  let provider: ProviderConfig | null = null;
  let jobs: Promise<void> = Promise.resolve();
  const analyze = async (id: string, recordId: string) => {
    const s = live();
    const rec = s.get(recordId);
    if (!rec) return s.setAnalysis(id, 'failed', null, 'the record is gone (retention)', o.clock.now());
    s.setAnalysis(id, 'running', null, null, null);
    const now = o.clock.now();
    const stats = s.routes(now - 3_600_000, now, rec.project, { route: rec.route, method: rec.method })[0] ?? null;
    const input = { ...rec, tree: rec.tree, route_stats: stats };
    const found = findings(input);
    if (!provider) return s.setAnalysis(id, 'done', { findings: found, summary: null, suggestions: [] }, null, o.clock.now());
    try {
      const answer = await complete(provider, prompt(input, found));
      s.setAnalysis(id, 'done', { findings: found, ...answer }, null, o.clock.now());
    } catch (err) {
      const cause = err instanceof ProviderError ? err.message : `analysis failed: ${(err as Error).message}`;
      o.log('warn', 'analysis failed', { analysis_id: id, cause });
      s.setAnalysis(id, 'failed', { findings: found, summary: null, suggestions: [] }, cause, o.clock.now());
    }
  };
  const analysisRouter = new Router({ prefix: '/api/v1/analysis' });
  analysisRouter.post('/analyze/:record_id', o.requireAdmin, (ctx) => {
    const rec = recordOf(live(), ctx.params.record_id!);
    const id = live().createAnalysis(rec.id, a.provider, o.clock.now());
    jobs = jobs.then(() => analyze(id, rec.id)).catch((err) => o.log('warn', 'analysis failed', { analysis_id: id, err: String(err) }));
    ctx.body = ok({ analysis_id: id, record_id: rec.id, status: 'pending', result_url: `/api/v1/analysis/${id}` });
  });
  analysisRouter.get('/:analysis_id', o.requireAdmin, (ctx) => {
    const row = live().getAnalysis(ctx.params.analysis_id!);
    if (!row) throw new ApiError('ANALYSIS_NOT_FOUND', `no analysis ${ctx.params.analysis_id!.slice(0, 64)}`);
    ctx.body = ok(row);
  });
  analysisRouter.get('/', o.requireAdmin, (ctx) => {
    const rid = textParam(ctx.query.record_id, 'record_id', 32);
    if (!rid) throw new ApiError('INVALID_PARAMETER', 'record_id: required', { field: 'record_id' });
    ctx.body = ok({ analyses: live().analysesOf(recordOf(live(), rid).id) });
  });

  const component: Component = {
    name: 'profiling',
    async start() {
      if (a.provider !== 'none') {
        const key = o.env.PERFWATCH_AI_API_KEY?.trim() || (a.api_key_file ? (await readFile(a.api_key_file, 'utf8').catch((err: Error) => { throw new StartupError(`profiling.analysis.api_key_file ${a.api_key_file}: ${err.message}`); })).trim() : '');
        if (!key) throw new StartupError(`profiling.analysis.provider ${a.provider} needs an API key: PERFWATCH_AI_API_KEY or profiling.analysis.api_key_file`);
        provider = { provider: a.provider, base_url: a.base_url, model: a.model!, apiKey: key, timeoutMs: a.timeout, maxRetries: a.max_retries, maxTokens: a.max_tokens, extraBody: a.extra_body ?? {} };
      }
      store = new ProfilingStore(path.join(o.config.storage.path, 'profiling.db'));
      apiProjects.clear();
      for (const p of store.projects()) apiProjects.set(p.keySha256, p.name);
      const interrupted = store.failInterrupted(o.clock.now());
      if (interrupted) o.log('warn', 'analyses interrupted by the last stop marked failed', { count: interrupted });
      const prune = () => {
        const n = store?.prune(o.clock.now() - c.retention, c.max_records) ?? 0;
        if (n) o.log('info', 'profiling records pruned', { deleted: n });
      };
      prune();
      pruner = setInterval(prune, PRUNE_EVERY_MS);
      pruner.unref();
    },
    async stop() {
      await jobs;
      if (pruner) clearInterval(pruner);
      pruner = null;
      store?.close();
      store = null;
    },
  };
  return { router, analysisRouter, component };
}
