import type { Frame } from './record.js';

/**
 * Analysis of one request record (seed 004's `analyze`): deterministic findings from the span tree and the route's
 * statistics, each with the evidence that triggered it, then, when a provider is configured, a summary and suggestions
 * from an OpenAI-compatible chat-completions API (OpenAI, Qwen through DashScope's compatible mode, DeepSeek, or any
 * base URL). The provider's failures end the job with a clear error; the findings are kept either way.
 */

export interface Finding {
  kind: 'hot_function' | 'repeated_calls' | 'slow_request' | 'sync_io' | 'cpu_bound' | 'waiting' | 'gc';
  severity: 'info' | 'warning';
  finding: string;
  evidence: Record<string, unknown>;
}

export interface AnalysisInput {
  id: string;
  route: string;
  method: string;
  status: number;
  duration_ms: number;
  cpu_time_ms: number;
  tree: { root_frame: Frame } | null;
  /** The request's CPU samples, when the app's SDK runs the profiler. */
  sampled?: { root_frame: Frame; sample_count: number; interval_ms: number } | null;
  /** The route's statistics over the last hour, when there are any. */
  route_stats: { count: number; p50_ms: number; p95_ms: number } | null;
}

const r2 = (v: number) => Math.round(v * 100) / 100;

/** Every frame with its parent's name, depth first. */
function* walk(f: Frame, parent: string | null = null): Generator<{ f: Frame; parent: string | null }> {
  yield { f, parent };
  for (const c of f.children) yield* walk(c, f.function);
}

export function findings(r: AnalysisInput): Finding[] {
  const out: Finding[] = [];
  const total = r.duration_ms;
  if (r.tree) {
    for (const { f, parent } of walk(r.tree.root_frame)) {
      const selfMs = f.self_time * 1000;
      // the root's self time is the un-wrapped code of the handler: worth naming only when it dominates
      if (parent !== null && selfMs >= 5 && selfMs >= 0.3 * total) {
        out.push({ kind: 'hot_function', severity: 'warning', finding: `${f.function} spends ${r2(selfMs)} ms in itself, ${Math.round((selfMs / total) * 100)} % of the request.`, evidence: { function: f.function, self_ms: r2(selfMs), share: r2(selfMs / total), calls: f.calls } });
      }
      if (parent !== null && f.calls >= 5) {
        out.push({ kind: 'repeated_calls', severity: f.calls >= 20 ? 'warning' : 'info', finding: `${f.function} is called ${f.calls} times from ${parent} in one request (${r2(f.time * 1000)} ms together): an N+1 pattern if each call is a query; batch them.`, evidence: { function: f.function, parent, calls: f.calls, total_ms: r2(f.time * 1000), per_call_ms: r2((f.time * 1000) / f.calls) } });
      }
      if (/Sync$/.test(f.function)) {
        out.push({ kind: 'sync_io', severity: 'warning', finding: `${f.function} blocks the event loop for ${r2(f.time * 1000)} ms; every other request waits meanwhile. Use its asynchronous form.`, evidence: { function: f.function, ms: r2(f.time * 1000), calls: f.calls } });
      }
    }
  }
  if (r.sampled) out.push(...sampledFindings(r.sampled));
  if (r.route_stats && r.route_stats.count >= 10 && r.duration_ms >= 3 * r.route_stats.p50_ms && r.duration_ms >= 10) {
    out.push({ kind: 'slow_request', severity: 'warning', finding: `This request took ${r2(r.duration_ms)} ms, ${r2(r.duration_ms / r.route_stats.p50_ms)}× the route's median over the last hour.`, evidence: { duration_ms: r2(r.duration_ms), route_p50_ms: r.route_stats.p50_ms, route_p95_ms: r.route_stats.p95_ms, route_count: r.route_stats.count } });
  }
  if (r.duration_ms >= 50 && r.cpu_time_ms >= 0.8 * r.duration_ms) {
    out.push({ kind: 'cpu_bound', severity: 'warning', finding: `The process was busy for ${r2(r.cpu_time_ms)} of the request's ${r2(r.duration_ms)} ms: it is CPU-bound, and holds the event loop.`, evidence: { cpu_ms: r2(r.cpu_time_ms), duration_ms: r2(r.duration_ms), cpu_share: r2(r.cpu_time_ms / r.duration_ms) } });
  } else if (r.duration_ms >= 100 && r.cpu_time_ms <= 0.2 * r.duration_ms) {
    out.push({ kind: 'waiting', severity: 'info', finding: `The request used ${r2(r.cpu_time_ms)} ms of CPU in ${r2(r.duration_ms)} ms: it mostly waited (database, network, timers).`, evidence: { cpu_ms: r2(r.cpu_time_ms), duration_ms: r2(r.duration_ms), cpu_share: r2(r.cpu_time_ms / r.duration_ms) } });
  }
  return out;
}

/**
 * Findings from the request's CPU samples: they see code nobody wrapped. A function that holds 30 % or more of the
 * samples by itself; a synchronous call (V8 shows `readFileSync`, `pbkdf2Sync`, `zlibBufferSync` … as frames of their
 * own); the garbage collector at 10 % or more (allocation churn). `JSON.parse` and regular expressions are not frames
 * in V8's profiles: their time is the caller's self time.
 */
function sampledFindings(s: { root_frame: Frame; sample_count: number; interval_ms: number }): Finding[] {
  const out: Finding[] = [];
  const total = s.root_frame.time;
  if (s.sample_count < 1 || total <= 0) return out;
  let gc = 0;
  for (const { f, parent } of walk(s.root_frame)) {
    if (parent === null) continue;
    const share = f.self_time / total;
    const evidence = { function: f.function, file: f.file_path_short, self_ms: r2(f.self_time * 1000), share: r2(share), samples: Math.round((f.self_time * 1000) / s.interval_ms), source: 'cpu_samples' };
    if (f.function === '(garbage collector)') gc += f.self_time;
    else if (/Sync$/.test(f.function)) out.push({ kind: 'sync_io', severity: 'warning', finding: `${f.function} (${f.file_path_short}) held the CPU in ${evidence.samples} of the request's samples (${r2(f.self_time * 1000)} ms), called from ${parent}: it blocks the event loop. Use its asynchronous form.`, evidence });
    else if (share >= 0.3 && evidence.samples >= 3 && f.is_application_code) out.push({ kind: 'hot_function', severity: 'warning', finding: `${f.function} (${f.file_path_short}) is on the CPU in ${Math.round(share * 100)} % of the request's samples by itself.`, evidence });
  }
  if (gc / total >= 0.1) out.push({ kind: 'gc', severity: 'warning', finding: `The garbage collector ran in ${Math.round((gc / total) * 100)} % of the request's samples: it allocates heavily (large temporary strings, arrays, or JSON).`, evidence: { gc_ms: r2(gc * 1000), share: r2(gc / total), source: 'cpu_samples' } });
  return out;
}

export interface ProviderConfig {
  provider: 'openai' | 'qwen' | 'deepseek' | 'custom';
  base_url?: string | undefined;
  model: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  maxTokens: number;
  extraBody: Record<string, unknown>;
}

export const BASE_URLS: Record<Exclude<ProviderConfig['provider'], 'custom'>, string> = {
  openai: 'https://api.openai.com/v1',
  qwen: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
  deepseek: 'https://api.deepseek.com/v1',
};

/** The tree as indented lines, largest children first, at most `max` lines: what the prompt shows the model. */
function treeLines(f: Frame, max = 60): string[] {
  const lines: string[] = [];
  const visit = (x: Frame, depth: number) => {
    if (lines.length >= max) return;
    lines.push(`${'  '.repeat(depth)}${x.function}: ${r2(x.time * 1000)} ms total, ${r2(x.self_time * 1000)} ms self, ${x.calls} call(s)`);
    for (const c of [...x.children].sort((a, b) => b.time - a.time)) visit(c, depth + 1);
  };
  visit(f, 0);
  return lines;
}

export function prompt(r: AnalysisInput, found: Finding[]): Array<{ role: 'system' | 'user'; content: string }> {
  return [
    { role: 'system', content: 'You are a Node.js performance engineer. Answer with one JSON object: {"summary": "two or three sentences", "suggestions": ["short, concrete changes, most valuable first"]}. Base every statement on the data given; do not invent code you were not shown.' },
    {
      role: 'user',
      content: [
        `Request: ${r.method} ${r.route} → ${r.status}, ${r2(r.duration_ms)} ms wall, ${r2(r.cpu_time_ms)} ms CPU.`,
        r.route_stats ? `Route over the last hour: ${r.route_stats.count} requests, p50 ${r.route_stats.p50_ms} ms, p95 ${r.route_stats.p95_ms} ms.` : 'No statistics for the route.',
        'Span tree (wrapped functions; time includes awaits):',
        ...(r.tree ? treeLines(r.tree.root_frame) : ['(none)']),
        ...(r.sampled ? [`CPU samples (every ${r.sampled.interval_ms} ms, ${r.sampled.sample_count} samples; calls are not counted by sampling):`, ...treeLines(r.sampled.root_frame, 40)] : []),
        'Findings from rules:',
        ...(found.length ? found.map((f) => `- ${f.kind}: ${f.finding}`) : ['(none)']),
      ].join('\n'),
    },
  ];
}

export class ProviderError extends Error {}

/**
 * One chat completion, with retries on 429, 5xx and network errors (backoff 1 s, 2 s, 4 s …, or `Retry-After`), each
 * try cut at `timeoutMs`. Resolves to `{summary, suggestions}`; a model that answers prose instead of JSON gives its
 * text as the summary. Throws ProviderError with a message a user can act on.
 */
export async function complete(c: ProviderConfig, messages: ReturnType<typeof prompt>): Promise<{ summary: string; suggestions: string[]; model: string; tokens: number | null }> {
  const base = (c.provider === 'custom' ? c.base_url! : (c.base_url ?? BASE_URLS[c.provider])).replace(/\/+$/, '');
  let last = '';
  for (let attempt = 0; attempt <= c.maxRetries; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${base}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${c.apiKey}` },
        body: JSON.stringify({ model: c.model, messages, max_tokens: c.maxTokens, temperature: 0.2, ...c.extraBody }),
        signal: AbortSignal.timeout(c.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      last = e.name === 'TimeoutError' ? `the provider did not answer within ${c.timeoutMs / 1000} s` : `the provider could not be reached (${(e.cause as Error | undefined)?.message ?? e.message})`;
      if (attempt < c.maxRetries) await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
      continue;
    }
    const text = await res.text().catch(() => '');
    if (res.status === 401 || res.status === 403) throw new ProviderError(`the provider refused the API key (${res.status}): check profiling.analysis.api_key_file`);
    if (res.status === 429 || res.status >= 500) {
      last = res.status === 429 ? 'the provider is rate limiting (429)' : `the provider failed (${res.status})`;
      const wait = Math.min(30, Number(res.headers.get('retry-after')) || 2 ** attempt);
      if (attempt < c.maxRetries) await new Promise((r) => setTimeout(r, wait * 1000));
      continue;
    }
    if (!res.ok) throw new ProviderError(`the provider answered ${res.status}: ${text.slice(0, 300)}`);
    let body: { choices?: Array<{ message?: { content?: unknown } }>; model?: string; usage?: { total_tokens?: number } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new ProviderError(`the provider answered something that is not a chat completion (${text.slice(0, 80).replace(/\s+/g, ' ')}…)`);
    }
    const content = body?.choices?.[0]?.message?.content;
    if (typeof content !== 'string' || !content.trim()) throw new ProviderError('the provider answered a chat completion without a message');
    const json = /\{[\s\S]*\}/.exec(content)?.[0];
    let parsed: { summary?: unknown; suggestions?: unknown } | null = null;
    try {
      parsed = json ? JSON.parse(json) : null;
    } catch {
      parsed = null;
    }
    const summary = typeof parsed?.summary === 'string' ? parsed.summary : content.trim();
    const suggestions = Array.isArray(parsed?.suggestions) ? parsed.suggestions.filter((s): s is string => typeof s === 'string').slice(0, 20) : [];
    return { summary: summary.slice(0, 4000), suggestions: suggestions.map((s) => s.slice(0, 1000)), model: typeof body.model === 'string' ? body.model : c.model, tokens: body.usage?.total_tokens ?? null };
  }
  throw new ProviderError(`${last}; gave up after ${c.maxRetries + 1} tries`);
}
