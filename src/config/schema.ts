import cron from 'node-cron';
import { z } from 'zod';
import { parseDuration } from './duration.js';

/**
 * The one configuration schema: every option, its default and its documentation. docs/config.md is generated from it
 * (`npm run docs`) and a test fails when it is stale. Keys are snake_case like the legacy documents and Prometheus.
 */

const DURATION_MESSAGE = 'expected a duration like "5s" (a number with ms, s, m or h, or a plain number of seconds)';

/** A duration in milliseconds with a default. */
export function duration(defaultValue: string, opts: { min?: number; max?: number } = {}) {
  return durationValue(opts).prefault(defaultValue);
}

/** A duration in milliseconds, without a default (for options whose absence means "ask the environment"). */
export function durationValue(opts: { min?: number; max?: number } = {}) {
  return z
    .union([z.string(), z.number()], { error: DURATION_MESSAGE })
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: DURATION_MESSAGE });
        return z.NEVER;
      }
      if (opts.min !== undefined && ms < opts.min) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${opts.min}ms` });
        return z.NEVER;
      }
      if (opts.max !== undefined && ms > opts.max) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${opts.max}ms` });
        return z.NEVER;
      }
      return ms;
    });
}

export const PLUGIN_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const pluginId = z.string().regex(PLUGIN_ID_RE, { error: 'expected 1 to 64 characters from A-Z a-z 0-9 _ . -' });

const ALERT_LEVELS = ['info', 'warning', 'error', 'critical'] as const;

/** A list refinement: each item's `name` at most once, the second one named in the error. */
function uniqueNames(kind: string) {
  return (list: ReadonlyArray<{ name: string }>, ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (seen.has(item.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${kind} "${item.name}" is defined twice` });
      seen.add(item.name);
    });
  };
}
export const CHANNEL_TYPE_NAMES = ['email', 'slack', 'dingtalk', 'feishu', 'wecom'] as const;

/** One notification channel (docs/alerting.md#channels). One object for every type; what a type needs is checked below. */
export const channelSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9_-]{1,32}$/, { error: 'expected 1 to 32 characters from a-z 0-9 _ -' }).describe('Unique; the `channel` label of `perfwatch_alert_channel_notifications_total`.'),
    type: z.enum(CHANNEL_TYPE_NAMES).describe('`email` (SMTP, `smtp`, `from`, `to`), or a chat webhook at `url`: `slack` (incoming webhook), `dingtalk` (custom robot; `secret_file` for 加签), `feishu` (Feishu/Lark custom bot; `secret_file` for its signature), `wecom` (企业微信 group robot).'),
    levels: z.array(z.enum(ALERT_LEVELS)).min(1).max(4).optional().describe('Alert levels this channel gets (default all): route critical to a pager mailbox, warnings to chat.'),
    rules: z.array(z.string().min(1).max(128)).min(1).max(1000).optional().describe('Rule names or ids this channel gets (default all).'),
    cooldown: duration('0s', { max: 86_400_000 }).describe('After a firing notification of a rule, further firing ones of that rule on this channel are suppressed (and counted) for this long (seed 003 `alert_cooldown`).'),
    send_resolved: z.boolean().prefault(true).describe('Also tell when an alert this channel was told about resolves.'),
    subject: z.string().min(1).max(500).optional().describe('Subject (email) or first line (chat); `{{ level }}`, `{{ status }}`, `{{ title }}`, `{{ message }}`, `{{ value }}`, `{{ threshold }}`, `{{ rule }}`, `{{ host }}`, `{{ time }}`, `{{ alert_id }}`, `{{ labels.<name> }}`. Default `[perfwatch] {{ level }} {{ status }}: {{ title }}`.'),
    text: z.string().min(1).max(10_000).optional().describe('Body, same fields (email also gets an HTML version with them in a table).'),
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional().describe('Chat channels: the webhook URL the service gave (DingTalk\'s and WeCom\'s carry their token in the query).'),
    secret_file: z.string().optional().describe('`dingtalk`, `feishu`: file holding the signing secret (relative to the config file).'),
    smtp: z
      .strictObject({
        host: z.string().min(1).max(255).describe('SMTP server.'),
        port: z.int().min(1).max(65_535).prefault(587).describe('587 (submission, STARTTLS), 465 with `secure`, 25.'),
        secure: z.boolean().prefault(false).describe('TLS from the first byte (port 465); otherwise STARTTLS when the server offers it.'),
        require_tls: z.boolean().prefault(false).describe('Refuse to send when the server does not offer STARTTLS.'),
        tls_insecure: z.boolean().prefault(false).describe('Accept any server certificate (test servers only).'),
        user: z.string().max(320).optional().describe('Login, with `password_file`.'),
        password_file: z.string().optional().describe('File holding the SMTP password (relative to the config file).'),
      })
      .optional()
      .describe('`email`: the SMTP server.'),
    from: z.string().min(3).max(320).optional().describe('`email`: sender address.'),
    to: z.array(z.string().min(3).max(320)).min(1).max(100).optional().describe('`email`: recipients.'),
    timeout: duration('10s', { min: 100, max: 120_000 }).describe('Per attempt.'),
    retries: z.int().min(0).max(10).prefault(3).describe('Further attempts after a failure that may pass next time (network, 5xx, 408, 429); a refusal (4xx, a chat service\'s error code) is not retried.'),
    backoff: duration('1s', { min: 10 }).describe('Delay before the first retry; doubles each time.'),
    max_queue: z.int().min(1).max(100_000).prefault(1000).describe('Notifications waiting for this channel; past it new ones are dropped and counted.'),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (c.type === 'email') {
      for (const f of ['smtp', 'from', 'to'] as const) if (c[f] === undefined) issue(f, `an email channel needs ${f}`);
      for (const f of ['url', 'secret_file'] as const) if (c[f] !== undefined) issue(f, `${f} does not apply to an email channel`);
    } else {
      if (c.url === undefined) issue('url', `a ${c.type} channel needs url`);
      for (const f of ['smtp', 'from', 'to'] as const) if (c[f] !== undefined) issue(f, `${f} applies to email channels only`);
      if (c.secret_file !== undefined && c.type !== 'dingtalk' && c.type !== 'feishu') issue('secret_file', `a ${c.type} webhook is not signed; secret_file applies to dingtalk and feishu`);
    }
  });
export type ChannelConfigInput = z.output<typeof channelSchema>;

/** One scheduled report (docs/reports.md#schedules). */
export const scheduleSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, { error: 'expected 1 to 32 characters from a-z 0-9 _ -' }).describe('Unique; reports it makes say `origin: schedule:<name>`.'),
  cron: z
    .string()
    .max(100)
    .refine((c) => cron.validate(c), { message: 'expected a cron expression: 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. "0 8 * * 1" for Mondays at 08:00' })
    .describe('When (node-cron syntax, 5 or 6 fields).'),
  timezone: z
    .string()
    .max(64)
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, { message: 'expected an IANA time zone such as Asia/Shanghai' })
    .optional()
    .describe('Time zone of `cron` (default the host\'s).'),
  type: z.enum(['summary', 'detailed', 'custom']).prefault('summary').describe('As in `POST reports`.'),
  period: z.enum(['1h', '6h', '24h', '7d']).prefault('24h').describe('The period ending when the schedule fires.'),
  format: z.enum(['json', 'csv', 'pdf']).prefault('pdf').describe('As in `POST reports`.'),
  metrics: z.array(z.string().min(1).max(128)).min(1).max(100).optional().describe('For `custom`.'),
  include_alerts: z.boolean().prefault(true),
  include_recommendations: z.boolean().prefault(true),
  deliver: z
    .array(
      z.strictObject({
        channel: z.string().optional().describe('An `alerting.channels` name: email gets the file attached; chat channels get the download link.'),
        file: z.string().optional().describe('A folder the file is copied into (relative to the config file).'),
        webhook: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional().describe('POSTed `{"event": "report_ready", "report": {…GET reports/{id}…}}` (JSON).'),
      }),
    )
    .max(10)
    .prefault([])
    .describe('Where each finished report goes, besides staying downloadable; each entry one of `channel`, `file`, `webhook`.'),
});

export const CHECK_TYPES = ['http', 'tcp', 'exec', 'heartbeat'] as const;
export const CHECK_ROLES = ['liveness', 'readiness', 'dependency'] as const;

/**
 * One health check of a plugin (docs/health.md). Kubernetes' probe fields; the plugin's health is derived from them.
 * One object for every type (so the reference lists each field once); the fields a type needs are checked below.
 */
export const healthCheckSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9_-]{1,32}$/, { error: 'expected 1 to 32 characters from a-z 0-9 _ -' }).describe('Unique within the plugin; the `check` label on /metrics.'),
    type: z.enum(CHECK_TYPES).describe('`http`: GET `url` and expect `expect_status` (and `expect_body`); `tcp`: connect to `address`; `exec`: run `command`, exit 0 passes; `heartbeat`: the plugin must report `pass` within `ttl` (`POST /plugin/{id}/heartbeat` with its `PERFWATCH_PLUGIN_TOKEN`).'),
    role: z.enum(CHECK_ROLES).prefault('liveness').describe('`liveness`: `failure_threshold` failures in a row restart the plugin through its restart policy (seed 003 `max_consecutive_failures`); `readiness`: the plugin stays `starting` until it passes, and is `unhealthy` while it fails, never restarted; `dependency`: something the plugin needs; failing makes it `degraded`, never restarts it.'),
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).max(2048).optional().describe('`http`: the URL to GET.'),
    expect_status: z.array(z.int().min(100).max(599)).min(1).max(32).optional().describe('`http`: the statuses that pass (default any 200–399).'),
    expect_body: z.string().min(1).max(256).optional().describe('`http`: a text the body must contain (the first 64 KiB are read).'),
    address: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/, { error: 'expected host:port' }).optional().describe('`tcp`: `host:port` to connect to.'),
    command: z.array(z.string().max(4096)).min(1).max(64).optional().describe('`exec`: program and arguments, run without a shell in the plugin\'s `cwd` and environment; exit 0 passes, its output (4 KiB) is the error otherwise.'),
    ttl: durationValue({ min: 100, max: 86_400_000 }).optional().describe('`heartbeat`: how long a `pass` report counts.'),
    interval: duration('10s', { min: 100, max: 86_400_000 }).describe('Time between two runs of the check (seed 003 `check_interval`).'),
    timeout: duration('1s', { min: 10, max: 600_000 }).describe('A run that takes longer fails and is cut (seed 003 `health_check_timeout`). Runs of one check never overlap: past `interval`, the next run waits for this one.'),
    initial_delay: duration('0s', { max: 3_600_000 }).describe('Wait after the plugin\'s process starts before the first run.'),
    failure_threshold: z.int().min(1).max(100).prefault(3).describe('Failures in a row that make a passing check failing (seed 003 `health_check_retries`, `max_consecutive_failures`).'),
    success_threshold: z.int().min(1).max(100).prefault(1).describe('Passes in a row that make a failing check passing.'),
  })
  .superRefine((c, ctx) => {
    const need: Record<(typeof CHECK_TYPES)[number], 'url' | 'address' | 'command' | 'ttl'> = { http: 'url', tcp: 'address', exec: 'command', heartbeat: 'ttl' };
    const own = need[c.type];
    if (c[own] === undefined) ctx.addIssue({ code: 'custom', path: [own], message: `${c.type === 'http' || c.type === 'exec' ? 'an' : 'a'} ${c.type} check needs ${own}` });
    for (const f of ['url', 'address', 'command', 'ttl'] as const) {
      if (f !== own && c[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f} does not apply to ${c.type === 'http' || c.type === 'exec' ? 'an' : 'a'} ${c.type} check` });
    }
    if (c.type !== 'http') for (const f of ['expect_status', 'expect_body'] as const) if (c[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f} applies to http checks only` });
    if (c.type === 'heartbeat' && c.role === 'dependency') ctx.addIssue({ code: 'custom', path: ['role'], message: 'a heartbeat reports on the plugin itself: role liveness or readiness' });
  });
export type HealthCheckConfig = z.output<typeof healthCheckSchema>;

/** One plugin, as written inline under `plugins:` or under `[plugin]` in a plugin.toml. */
export const pluginSchema = z.strictObject({
  id: pluginId.describe('Unique id, `[A-Za-z0-9_.-]{1,64}`. In a plugin.toml it defaults to the folder name.'),
  name: z.string().max(200).optional().describe('Display name; defaults to the id.'),
  version: z.string().max(64).prefault('0.0.0').describe('Version shown by `GET /plugins` and `perfwatch_plugin_info`.'),
  description: z.string().max(2000).prefault('').describe('Free text shown by `GET /plugins`.'),
  command: z.string().min(1, { error: 'expected the program to run' }).describe('Program to run, spawned without a shell: a name looked up on PATH or a path (relative to `cwd`).'),
  args: z.array(z.string()).prefault([]).describe('Arguments, passed as they are.'),
  cwd: z.string().prefault('.').describe('Working directory; a relative path resolves against the folder of the file it is written in.'),
  env: z.record(z.string(), z.string()).prefault({}).describe('Extra environment variables, on top of perfwatch\'s own environment. `PERFWATCH_PLUGIN_ID` is always set.'),
  enabled: z.boolean().prefault(true).describe('Disabled plugins are listed but never started.'),
  autostart: z.boolean().prefault(true).describe('Start with perfwatch.'),
  stop_timeout: duration('10s').describe('How long to wait after SIGTERM to the process group before SIGKILL.'),
  start_grace: duration('1s').describe('How long a new process must stay up to count as `running`; a process that exits sooner is a failed start.'),
  restart: z.enum(['never', 'on-failure', 'always']).prefault('on-failure').describe('When to restart a process that exits without being asked to: never, on-failure (non-zero exit or a signal) or always.'),
  max_restarts: z.int().min(0).max(1000).prefault(5).describe('Restarts allowed within `restart_window`; one more crash puts the plugin in `error` until started by hand.'),
  restart_window: duration('60s').describe('Window over which restarts are counted.'),
  backoff_initial: duration('1s').describe('Delay before the first restart; doubles with each restart in the window.'),
  backoff_max: duration('60s').describe('Upper bound of the restart delay.'),
  health_checks: z
    .array(healthCheckSchema)
    .max(16)
    .prefault([])
    .superRefine(uniqueNames('check'))
    .describe('Health checks (docs/health.md): heartbeat, functional (http, tcp, exec) and dependency checks; at most 16.'),
});
export type PluginConfigInput = z.input<typeof pluginSchema>;
export type PluginConfig = z.output<typeof pluginSchema>;

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).prefault('0.0.0.0').describe('Address to listen on.'),
      port: z.int().min(0).max(65535).prefault(9470).describe('TCP port; 0 picks a free one (the start-up log line shows it).'),
      body_limit: z.int().min(1024).max(64 * 1024 * 1024).prefault(1024 * 1024).describe('Largest request body accepted, in bytes; larger bodies get 413.'),
      console: z.boolean().prefault(true).describe('Serve the web console at `/` (docs/console.md). It uses the same API and token as any client; turning it off removes only the pages.'),
    })
    .prefault({})
    .describe('HTTP server.'),
  collection: z
    .strictObject({
      interval: duration('5s', { min: 100, max: 3_600_000 }).describe('Sampling period of every collector.'),
      process_tree_refresh: duration('15s', { min: 100 }).describe(
        'How often each plugin\'s process tree is re-walked to find new children (spread over ticks; plugins younger than this are walked every tick). Known processes are sampled every interval.',
      ),
    })
    .prefault({})
    .describe('Sampling.'),
  storage: z
    .strictObject({
      path: z.string().prefault('./data').describe('Folder for everything persistent: admin token, plugin logs, pid file. Relative paths resolve against the config file\'s folder.'),
    })
    .prefault({})
    .describe('Persistence.'),
  retention: z
    .strictObject({
      plugin_samples: z.int().min(10).max(100_000).prefault(720).describe('Samples kept per plugin in its ring buffer (720 at 5s is one hour); 22 bytes each, allocated up front.'),
      raw: duration('1h', { min: 60_000, max: 86_400_000 }).describe('How long host and custom series keep every raw sample (at `collection.interval`); older data lives in the 1-minute and 5-minute tiers.'),
      metrics_retention_days: z.int().min(1).max(90).prefault(7).describe('Days kept in the 5-minute tier. The 1-minute tier always covers 24 hours.'),
      checkpoint_interval: duration('1m', { min: 1000 }).describe('How often the host and custom history is written to `<storage.path>/history.ckpt` (also at shutdown); it is reloaded at start. This bounds what a kill -9 or a power loss can lose of that history (docs/operations.md, "What survives what").'),
    })
    .prefault({})
    .describe('In-memory history.'),
  history: z
    .strictObject({
      backend: z.enum(['local', 'prometheus']).prefault('local').describe('Where `GET /api/v1/performance/history`, `summary` and `/plugin/metrics/{id}/history` read from: `local` = this process\' ring buffers; `prometheus` = a Prometheus-compatible query API (Prometheus, VictoriaMetrics, Thanos, Mimir) that scrapes this agent, with the local ring as the fallback (docs/fleet.md).'),
      prometheus: z
        .strictObject({
          url: z.url().describe('Base URL of the query API: `/api/v1/query` and `/api/v1/query_range` are appended (Prometheus `http://prometheus:9090`, VictoriaMetrics `http://vm:8428`, Mimir `http://mimir/prometheus`).'),
          timeout: duration('5s', { min: 100, max: 120_000 }).describe('Longest wait for one answer (also sent as the query\'s `timeout`); past it the request falls back to the local ring.'),
          headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { error: 'expected an HTTP header name' }), z.string().max(4096)).prefault({}).describe('Extra request headers, e.g. `X-Scope-OrgID` for Mimir or Cortex tenants.'),
          basic_auth: z
            .strictObject({
              username: z.string().min(1).max(256).describe('User name.'),
              password_file: z.string().describe('File holding the password (relative to the config file); `PERFWATCH_HISTORY_PASSWORD` wins.'),
            })
            .optional()
            .describe('HTTP basic authentication.'),
          bearer_token_file: z.string().optional().describe('File holding a bearer token (relative to the config file); `PERFWATCH_HISTORY_BEARER_TOKEN` wins. Not together with `basic_auth`.'),
          tls: z
            .strictObject({
              ca_file: z.string().optional().describe('CA bundle (PEM) that signs the server\'s certificate, instead of the system store.'),
              cert_file: z.string().optional().describe('Client certificate (PEM), for mutual TLS; needs `key_file`.'),
              key_file: z.string().optional().describe('Client key (PEM).'),
              server_name: z.string().max(253).optional().describe('Name to check the certificate against, when it differs from the URL\'s host.'),
              insecure_skip_verify: z.boolean().prefault(false).describe('Accept any certificate. For tests only.'),
            })
            .prefault({})
            .describe('TLS for an `https://` URL.'),
          retry_after: duration('10s', { max: 3_600_000 }).describe('After a timeout or an unreachable backend, this agent\'s history is read from the local ring for this long without asking the backend again (and another agent\'s answers 503 at once), so a dead backend does not cost every request its timeout. 0 asks every time.'),
          job: z.string().min(1).max(256).prefault('perfwatch').describe('`job` label of this agent\'s series, as the scrape configuration names it.'),
          instance: z.string().min(1).max(256).optional().describe('`instance` label of this agent\'s series; defaults to `<hostname>:<server.port>`, what a static scrape target usually reads.'),
          scrape_interval: durationValue({ min: 100, max: 3_600_000 }).optional().describe('How often the backend scrapes this agent (default `collection.interval`): the window of rate fields (4 × this at least) and of the plugin history look-back.'),
          max_points: z.int().min(100).max(1_000_000).prefault(11_000).describe('Most points per series one `query_range` may ask for (Prometheus refuses over 11 000, VictoriaMetrics over 30 000 by default); longer answers are refused with 400 naming `interval`.'),
        })
        .optional()
        .describe('The backend of `history.backend: prometheus`.'),
    })
    .prefault({})
    .describe('Where the history of the JSON API is read from (docs/fleet.md).'),
  host: z
    .strictObject({
      enabled: z.boolean().prefault(true).describe('Sample the host (CPU, memory, disks, network, processes, TCP connections, load).'),
      mountpoints: z.array(z.string().min(1)).min(1).prefault(['/']).describe('Filesystems whose usage is sampled every tick; the first is the `disk` of `GET /api/v1/performance/stats`.'),
      slow_interval: duration('30s', { min: 1000 }).describe('Cadence of the expensive host parts: the process census by state (one walk of /proc), TCP sockets by state (/proc/net/tcp{,6}), CPU frequency and the mount table.'),
      system_refresh: duration('10m', { min: 10_000 }).describe('How often the static facts of `GET /api/v1/performance/system` are re-read (systeminformation, which forks shell commands).'),
    })
    .prefault({})
    .describe('Host collector.'),
  custom_metrics: z
    .strictObject({
      max_series: z.int().min(1).max(100_000).prefault(200).describe('Distinct custom series (name + tags) kept; past it, new series are rejected with SERIES_LIMIT_EXCEEDED unless one past its TTL can be evicted. Memory per series is fixed (see docs/metrics.md).'),
      ttl: duration('5m', { min: 1000 }).describe('A custom series not updated for this long drops off /metrics (its history stays until its slot is needed).'),
      max_batch: z.int().min(1).max(100_000).prefault(1000).describe('Samples accepted in one `POST metrics/batch`.'),
    })
    .prefault({})
    .describe('Metrics ingested through `POST /api/v1/performance/metrics[/batch]`.'),
  reports: z
    .strictObject({
      concurrency: z.int().min(1).max(8).prefault(1).describe('Reports generated at once; the rest wait in the queue.'),
      max_queue: z.int().min(1).max(1000).prefault(10).describe('Reports waiting; past it `POST reports` answers 429 `REPORTS_BUSY`.'),
      timeout: duration('5m', { min: 1000, max: 3_600_000 }).describe('A report still generating after this fails with the cause `timed out`.'),
      max_age: duration('720h', { min: 60_000 }).describe('Finished reports older than this are deleted (row and file), checked hourly.'),
      max_count: z.int().min(1).max(100_000).prefault(100).describe('Finished reports kept at most; the oldest go first.'),
      schedules: z
        .array(scheduleSchema)
        .max(100)
        .prefault([])
        .superRefine(uniqueNames('schedule'))
        .describe('Reports made on a schedule and delivered (docs/reports.md#schedules).'),
      chromium: z.string().optional().describe('The Chromium that prints PDF reports (`PERFWATCH_CHROMIUM` too); default the first of /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome. Debian: `apt-get install chromium fonts-noto-cjk`.'),
    })
    .prefault({})
    .describe('Performance reports, `POST /api/v1/performance/reports` (docs/reports.md): files and a SQLite index under `<storage.path>/reports/`.'),
  profiling: z
    .strictObject({
      projects: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected 1 to 64 characters from A-Z a-z 0-9 _ . -' }).describe('The project, as records and `/metrics` (`project` label) name it.'),
            key: z.string().min(16, { error: 'expected at least 16 characters (`openssl rand -hex 16` makes one)' }).max(256).describe('What the SDK sends as `X-Project-Key` (its `project_key`).'),
          }),
        )
        .max(100)
        .prefault([])
        .superRefine((ps, ctx) => {
          const names = new Set<string>();
          const keys = new Set<string>();
          ps.forEach((p, i) => {
            if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `project ${p.name} is listed twice` });
            if (keys.has(p.key)) ctx.addIssue({ code: 'custom', path: [i, 'key'], message: 'two projects have the same key' });
            names.add(p.name);
            keys.add(p.key);
          });
        })
        .describe('Projects that may send request records (docs/profiling.md); none: the collect routes refuse every record.'),
      max_batch: z.int().min(1).max(10_000).prefault(500).describe('Records in one `POST batch` at most; a larger batch is refused whole (400 `BATCH_TOO_LARGE`).'),
      max_nodes: z.int().min(1).max(100_000).prefault(2000).describe('Frames in one record\'s tree at most (depth at most 128); a record over it is refused.'),
      retention: duration('168h', { min: 60_000, max: 90 * 86_400_000 }).describe('Records older than this are deleted, checked every minute.'),
      max_records: z.int().min(100).max(10_000_000).prefault(200_000).describe('Records kept at most; the oldest go first.'),
      max_routes: z.int().min(1).max(10_000).prefault(200).describe('Distinct routes per project on /metrics; further routes count under `<other>` (bounds the series).'),
      analysis: z
        .strictObject({
          provider: z.enum(['none', 'openai', 'qwen', 'deepseek', 'custom']).prefault('none').describe('Who writes the summary and suggestions after the rules\' findings: `none` (findings only), `openai`, `qwen` (DashScope\'s compatible mode), `deepseek`, or `custom` (any OpenAI-compatible `base_url`).'),
          base_url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional().describe('The API base, e.g. `http://127.0.0.1:8000/v1`; required for `custom`, else the provider\'s own.'),
          model: z.string().min(1).max(128).optional().describe('The model, e.g. `gpt-4o-mini`, `qwen-plus`, `deepseek-chat`; required unless `provider: none`.'),
          api_key_file: z.string().optional().describe('File holding the API key (or `PERFWATCH_AI_API_KEY`); read at start.'),
          timeout: duration('60s', { min: 1000, max: 600_000 }).describe('Time one call to the provider may take.'),
          max_retries: z.int().min(0).max(5).prefault(2).describe('Tries after the first on 429, 5xx, timeouts and network errors (backoff 1 s, 2 s … or `Retry-After`).'),
          max_tokens: z.int().min(64).max(16_000).prefault(800).describe('The answer\'s token budget (`max_tokens`).'),
          extra_body: z.record(z.string(), z.unknown()).optional().describe('Extra request fields some providers need, e.g. `{enable_thinking: false}` for Qwen3.'),
        })
        .prefault({})
        .superRefine((a, ctx) => {
          if (a.provider === 'custom' && !a.base_url) ctx.addIssue({ code: 'custom', path: ['base_url'], message: 'required with provider: custom' });
          if (a.provider !== 'none' && !a.model) ctx.addIssue({ code: 'custom', path: ['model'], message: `required with provider: ${a.provider}` });
        })
        .describe('Analysis of a record, `POST /api/v1/analysis/analyze/{record_id}` (docs/profiling.md#analysis).'),
    })
    .prefault({})
    .describe('Request profiling (seed 004, docs/profiling.md): records the `@perfwatch/sdk` sends, stored in `<storage.path>/profiling.db`.'),
  service_metrics: z
    .strictObject({
      max_tools: z.int().min(1).max(10_000).prefault(100).describe('Distinct tool names kept per plugin; calls to further tools are counted under `other` (bounds the series on /metrics).'),
      max_batch: z.int().min(1).max(100_000).prefault(1000).describe('Calls accepted in one `POST /plugin/{id}/report`; a larger report is refused whole.'),
      window: duration('1m', { min: 1000, max: 3_600_000 }).describe('The recent window of `perfwatch_plugin_call_error_ratio`, `…_call_average_duration_seconds` (what the default rules read), calls per second and p95.'),
    })
    .prefault({})
    .describe('Calls plugins report about themselves (docs/service-metrics.md).'),
  websocket: z
    .strictObject({
      max_clients: z.int().min(1).max(10_000).prefault(100).describe('Concurrent `/ws/performance` connections; more are refused.'),
      max_buffered_bytes: z.int().min(1024).prefault(1024 * 1024).describe('Bytes queued for one client beyond which it is disconnected (close code 1008): a slow client never grows perfwatch\'s memory.'),
      ping_interval: duration('30s', { min: 1000 }).describe('Keepalive ping period; a client that misses a pong is dropped.'),
    })
    .prefault({})
    .describe('Live stream at `/ws/performance`.'),
  auth: z
    .strictObject({
      admin_token_file: z.string().optional().describe('File holding the admin token, used when `PERFWATCH_ADMIN_TOKEN` is not set. Without either, a token is generated into `<storage.path>/admin_token` (mode 0600).'),
      open_writes: z.boolean().prefault(false).describe('Let `/api/v1/performance` writes (custom metrics, alert rules, resolve) through without the token, for legacy clients that cannot send a header. Writes a browser sends from a page of another origin (`Origin`, `Sec-Fetch-Site`) are still refused (403 `FORBIDDEN_ORIGIN`). The plugin routes keep their auth.'),
    })
    .prefault({})
    .describe('Admin authentication (Bearer token).'),
  alerting: z
    .strictObject({
      enabled: z.boolean().prefault(true).describe('Evaluate the alert rules at every collection cycle.'),
      default_rules: z.boolean().prefault(true).describe('Load the shipped rules (rules/default-rules.yaml: CPU 80 %, memory 85 %, disk 90 %, plugin down, plugin unhealthy, error rate 10 %, response time 5 s).'),
      rules_file: z.string().optional().describe('YAML file with more rules (`rules: [...]`, fields in docs/alerting.md); relative to the config file. Rules created through the API live in `<storage.path>/perfwatch.db`.'),
      history_limit: z.int().min(100).max(1_000_000).prefault(10_000).describe('Alerts kept in the store; past it the oldest resolved ones are deleted.'),
      instance: z.string().min(1).max(256).optional().describe('`instance` label of alerts pushed to Alertmanager; defaults to the hostname.'),
      external_url: z.url().optional().describe('Base URL of this perfwatch as Alertmanager users reach it, for `generatorURL`; defaults to the listening address.'),
      webhook: z
        .strictObject({
          url: z.url().describe('Receiver; gets a POST of the documented JSON body on every fire and resolve.'),
          secret_file: z.string().optional().describe('File holding the HMAC-SHA256 key for the `X-Perfwatch-Signature` header (`PERFWATCH_WEBHOOK_SECRET` wins). Without either, bodies are unsigned.'),
          timeout: duration('5s', { min: 100 }).describe('Per attempt.'),
          retries: z.int().min(0).max(10).prefault(3).describe('Further attempts after a failure (network error, 5xx, 408, 429), with exponential backoff.'),
          backoff: duration('1s', { min: 10 }).describe('Delay before the first retry; doubles each time.'),
          max_queue: z.int().min(1).max(100_000).prefault(1000).describe('Notifications waiting for a slow receiver; past it new ones are dropped and counted.'),
        })
        .optional()
        .describe('Target of the `webhook` action.'),
      alertmanager: z
        .strictObject({
          url: z.url().describe('Alertmanager base URL; alerts go to `POST <url>/api/v2/alerts`.'),
          resend_delay: duration('1m', { min: 1000 }).describe('Firing alerts are re-sent this often, as Prometheus\' `--rules.alert.resend-delay`.'),
          timeout: duration('10s', { min: 100 }).describe('Per POST.'),
        })
        .optional()
        .describe('Target of the `alertmanager` action.'),
      channels: z
        .array(channelSchema)
        .max(32)
        .prefault([])
        .superRefine(uniqueNames('channel'))
        .describe('Email and chat notification channels, routed by level and rule, each with its cooldown and queue (docs/alerting.md#channels). Every alert transition goes to every channel that matches, whatever the rule\'s `actions`.'),
    })
    .prefault({})
    .describe('Alert rules, their evaluation and notifications (docs/alerting.md).'),
  otlp: z
    .strictObject({
      endpoint: z.url().optional().describe('Collector endpoint; OTLP push is on when this or `OTEL_EXPORTER_OTLP_[METRICS_]ENDPOINT` is set. HTTP: a base URL gets `/v1/metrics` appended; gRPC: `http://host:4317`.'),
      protocol: z.enum(['http/protobuf', 'http/json', 'grpc']).optional().describe('Default `OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL`, else http/protobuf.'),
      interval: durationValue({ min: 1000 }).optional().describe('Push period (default `OTEL_METRIC_EXPORT_INTERVAL`, else 15s).'),
      timeout: durationValue({ min: 100 }).optional().describe('Per export (default `OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT`, else 10s); a failed or late export is dropped and counted.'),
      headers: z.record(z.string().min(1).max(256), z.string().max(4096)).optional().describe('Extra request headers (gRPC metadata), merged over `OTEL_EXPORTER_OTLP_[METRICS_]HEADERS`.'),
    })
    .prefault({})
    .describe('OpenTelemetry push of every host, plugin and custom series (docs/metrics.md#opentelemetry).'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).prefault('info').describe('Log level of perfwatch itself (pino, JSON lines on stdout).'),
    })
    .prefault({})
    .describe('Logging.'),
  plugin_logs: z
    .strictObject({
      max_bytes: z.int().min(4096).prefault(10 * 1024 * 1024).describe('Size at which a plugin\'s stdout or stderr log file is rotated.'),
      max_files: z.int().min(1).max(100).prefault(3).describe('Rotated files kept per stream (`<id>.stdout.log.1` …).'),
    })
    .prefault({})
    .describe('Plugin stdout/stderr files under `<storage.path>/logs/`.'),
  plugin_dirs: z.array(z.string()).prefault([]).describe('Folders whose `*/plugin.toml` files each register a plugin.'),
  plugins: z.array(pluginSchema).prefault([]).describe('Inline plugins.'),
}).superRefine((c, ctx) => {
  const channels = new Set(c.alerting.channels.map((ch) => ch.name));
  c.reports.schedules.forEach((sch, i) => {
    if (sch.type === 'custom' && !sch.metrics) ctx.addIssue({ code: 'custom', path: ['reports', 'schedules', i, 'metrics'], message: 'a custom report lists its metrics' });
    sch.deliver.forEach((d, k) => {
      const kinds = [d.channel, d.file, d.webhook].filter((x) => x !== undefined).length;
      if (kinds !== 1) ctx.addIssue({ code: 'custom', path: ['reports', 'schedules', i, 'deliver', k], message: 'each entry is one of channel, file or webhook' });
      if (d.channel !== undefined && !channels.has(d.channel)) ctx.addIssue({ code: 'custom', path: ['reports', 'schedules', i, 'deliver', k, 'channel'], message: `no alerting.channels entry is named "${d.channel}"` });
    });
  });
  const p = c.history.prometheus;
  if (c.history.backend === 'prometheus' && !p) ctx.addIssue({ code: 'custom', path: ['history', 'prometheus', 'url'], message: 'history.backend: prometheus needs history.prometheus.url' });
  if (p?.basic_auth && p.bearer_token_file) ctx.addIssue({ code: 'custom', path: ['history', 'prometheus', 'bearer_token_file'], message: 'use basic_auth or bearer_token_file, not both' });
  if (p && !!p.tls.cert_file !== !!p.tls.key_file) ctx.addIssue({ code: 'custom', path: ['history', 'prometheus', 'tls', p.tls.cert_file ? 'key_file' : 'cert_file'], message: 'cert_file and key_file go together' });
});
export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
