import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Middleware } from 'koa';
import nodemailer, { type Transporter } from 'nodemailer';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/load.js';
import type { Clock } from '../model/clock.js';
import type { Component } from '../model/component.js';
import type { TopProcesses } from '../model/host.js';
import { StartupError } from '../model/errors.js';
import { M } from '../model/metric-names.js';
import type { Sink } from '../pipeline/pipeline.js';
import { Channel } from './channels.js';
import { AlertmanagerNotifier, WebhookNotifier } from './notifiers.js';
import { registryLookup } from './registry-lookup.js';
import { createAlertRouter } from './routes.js';
import { AlertService, loadFileRules } from './service.js';
import { AlertStore } from './store.js';

export interface AlertingOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  /** The /metrics registry: alert metrics are defined on it, and rules read the values it holds. */
  registry: Registry;
  clock: Clock;
  writeAuth: Middleware;
  topProcesses: () => TopProcesses;
  /** perfwatch's own URL, for `generatorURL` (known once the server listens). */
  url: () => string;
  broadcast: (event: 'alert_triggered' | 'alert_resolved', payload: Record<string, unknown>) => void;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Alerting: the rules (defaults, rules file, API rules in SQLite), the evaluator and its sink, the notifiers, the
 * routes and its metrics. The part opens the SQLite file on start and closes it on stop (after the scheduler, which
 * stops first, has finished its last evaluation). The sink reads the registry the Prometheus sink filled this tick, so
 * the in-process evaluation sees exactly what Prometheus scrapes.
 */
export async function createAlerting(o: AlertingOptions) {
  const a = o.config.alerting;
  const fileRules = a.enabled ? await loadFileRules(a) : [];
  let secret = o.env.PERFWATCH_WEBHOOK_SECRET;
  if (!secret && a.webhook?.secret_file) secret = (await readFile(a.webhook.secret_file, 'utf8')).trim();
  const notifications = new Counter({
    name: M.alertNotificationsTotal,
    help: 'Alert notifications by action and result (sent, failed, queue_full, unconfigured).',
    labelNames: ['action', 'result'],
    registers: [o.registry],
  });
  notifications.inc({ action: 'log', result: 'sent' }, 0);
  for (const action of ['webhook', 'alertmanager'] as const) {
    if (a[action]) for (const result of ['sent', 'failed']) notifications.inc({ action, result }, 0);
  }
  const webhook = a.webhook
    ? new WebhookNotifier({
        url: a.webhook.url,
        secret,
        timeoutMs: a.webhook.timeout,
        retries: a.webhook.retries,
        backoffMs: a.webhook.backoff,
        maxQueue: a.webhook.max_queue,
        onResult: (result) => notifications.inc({ action: 'webhook', result }),
        onError: (err, attempt) => o.log('warn', 'webhook delivery failed', { err: String(err), attempt }),
      })
    : undefined;
  const alertmanager = a.alertmanager
    ? new AlertmanagerNotifier({
        url: a.alertmanager.url,
        resendDelayMs: a.alertmanager.resend_delay,
        intervalMs: o.config.collection.interval,
        timeoutMs: a.alertmanager.timeout,
        onResult: (result, n) => notifications.inc({ action: 'alertmanager', result }, n),
        onError: (err) => o.log('warn', 'alertmanager push failed', { err: String(err) }),
      })
    : undefined;
  const channels = await createChannels(a.channels, o.registry, o.log);
  let service: AlertService | null = null;
  let closed = false;
  const live = (): AlertService => {
    if (!service) throw new Error('alerting is not started');
    return service;
  };
  new Gauge({ name: M.alertsFiring, help: 'Alerts firing now, by severity.', labelNames: ['severity'], registers: [o.registry], collect() {
    if (service) for (const [severity, n] of Object.entries(service.firingCount())) this.set({ severity }, n);
  } });
  new Gauge({ name: M.alertRules, help: 'Alert rules loaded, by source and whether they are enabled.', labelNames: ['source', 'enabled'], registers: [o.registry], collect() {
    this.reset();
    for (const r of service?.rules ?? []) this.inc({ source: r.source, enabled: String(r.enabled) });
  } });
  new Gauge({ name: M.alertEvaluationDurationSeconds, help: 'Time the last evaluation of every rule took (including its store writes).', registers: [o.registry], collect() {
    this.set(service?.lastEvaluationSeconds ?? 0);
  } });

  const component: Component = {
    name: 'alerting',
    start() {
      const dbFile = path.join(o.config.storage.path, 'perfwatch.db');
      const store = new AlertStore(dbFile, { historyLimit: a.history_limit });
      if (store.wasEmpty) o.log('warn', `${dbFile} was empty (0 bytes): API alert rules and alert history it held are gone; a new database was created`, { file: dbFile });
      service = new AlertService({
        store,
        fileRules,
        intervalMs: o.config.collection.interval,
        now: () => o.clock.now(),
        topProcesses: o.topProcesses,
        webhook,
        alertmanager,
        channels,
        externalLabels: { instance: a.instance ?? os.hostname() },
        externalUrl: () => a.external_url?.replace(/\/$/, '') ?? o.url(),
        log: (level, msg, fields) => o.log(level, msg, fields),
        broadcast: o.broadcast,
        onNotification: (action, result) => notifications.inc({ action, result }),
      });
    },
    async stop() {
      if (closed || !service) return;
      closed = true;
      await service.close();
    },
  };
  const sink: Sink = {
    name: 'alerting',
    after: ['prometheus'],
    async onTick(s) {
      if (!a.enabled || !service) return;
      service.evaluate(s.timestampMs, await registryLookup(o.registry, service.evaluator.rules.map((r) => r.target.series)));
    },
  };
  // the routes resolve the service per request: it exists from start() on, before the server listens
  const router = createAlertRouter({ alerts: () => live(), writeAuth: o.writeAuth, clock: o.clock, bodyLimit: o.config.server.body_limit });
  return { component, sink, router, channel: (name: string) => channels.find((c) => c.config.name === name), get service(): AlertService {
    return live();
  } };
}

/**
 * The configured notification channels (channels.ts), their secrets read now (a missing file stops start-up, naming
 * it), and `perfwatch_alert_channel_notifications_total{channel,type,result}`, every result at 0 from the start.
 */
async function createChannels(list: Config['alerting']['channels'], registry: Registry, log: AlertingOptions['log']): Promise<Channel[]> {
  if (!list.length) return [];
  const counter = new Counter({
    name: M.alertChannelNotificationsTotal,
    help: 'Notifications per channel by result: sent, failed (after retries), queue_full (dropped), suppressed (cooldown).',
    labelNames: ['channel', 'type', 'result'],
    registers: [registry],
  });
  const read = async (file: string, what: string) => {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new StartupError(`alerting.channels: cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const out: Channel[] = [];
  for (const c of list) {
    for (const result of ['sent', 'failed', 'queue_full', 'suppressed']) counter.inc({ channel: c.name, type: c.type, result }, 0);
    const secret = c.secret_file ? await read(c.secret_file, `secret of channel "${c.name}"`) : null;
    let mailer: Transporter | undefined;
    if (c.type === 'email' && c.smtp) {
      const password = c.smtp.password_file ? await read(c.smtp.password_file, `SMTP password of channel "${c.name}"`) : undefined;
      mailer = nodemailer.createTransport({
        host: c.smtp.host,
        port: c.smtp.port,
        secure: c.smtp.secure,
        requireTLS: c.smtp.require_tls,
        tls: { rejectUnauthorized: !c.smtp.tls_insecure },
        connectionTimeout: c.timeout,
        greetingTimeout: c.timeout,
        socketTimeout: c.timeout,
        ...(c.smtp.user ? { auth: { user: c.smtp.user, pass: password ?? '' } } : {}),
      });
    }
    out.push(
      new Channel(
        {
          name: c.name,
          type: c.type,
          levels: c.levels,
          rules: c.rules,
          cooldownMs: c.cooldown,
          sendResolved: c.send_resolved,
          subject: c.subject,
          text: c.text,
          url: c.url,
          secret,
          to: c.to,
          from: c.from,
          timeoutMs: c.timeout,
          retries: c.retries,
          backoffMs: c.backoff,
          maxQueue: c.max_queue,
        },
        {
          mailer,
          onResult: (result) => counter.inc({ channel: c.name, type: c.type, result }),
          onError: (err, attempt) => log('warn', 'notification channel delivery failed', { channel: c.name, type: c.type, attempt, err: String(err) }),
        },
      ),
    );
  }
  return out;
}
