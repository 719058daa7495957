import { createHmac } from 'node:crypto';
import type { Transporter } from 'nodemailer';
import { DeliveryQueue, PermanentFailure } from './notifiers.js';

/**
 * Notification channels of seed 003 and its users (docs/alerting.md#channels): email over SMTP, and the chat webhooks
 * Slack, DingTalk, Feishu/Lark and WeCom, each with its real payload (and signature where the service has one).
 *
 * Every channel has its own bounded queue, delivered one message at a time with a timeout and retries with exponential
 * backoff: a dead or slow channel delays only itself, never the evaluation or another channel, and what cannot be
 * queued or delivered is dropped and counted. Routing is per channel: by level, by rule, with a cooldown per rule.
 */

export const CHANNEL_TYPES = ['email', 'slack', 'dingtalk', 'feishu', 'wecom'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];
export type ChannelResult = 'sent' | 'failed' | 'queue_full' | 'suppressed';

/** One alert transition as channels see it. */
export interface ChannelEvent {
  /** `report`: a scheduled report is ready (docs/reports.md#schedules), not an alert. */
  status: 'firing' | 'resolved' | 'report';
  ruleId: string;
  ruleName: string;
  level: string;
  title: string;
  message: string;
  value: number | null;
  threshold: number | null;
  labels: Record<string, string>;
  alertId: string | null;
  atMs: number;
  host: string;
}

/** A message to one channel; `text` is what chat channels show, email adds subject and HTML. */
export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

const LEVEL_MARK: Record<string, string> = { critical: '🔴', error: '🟠', warning: '🟡', info: '🔵' };

/** The fields a subject or body template may name: `{{ level }}`, `{{ labels.plugin_id }}`, … (unknown names render empty). */
export function templateFields(e: ChannelEvent): Record<string, string> {
  const f: Record<string, string> = {
    status: e.status,
    level: e.level,
    title: e.title,
    message: e.message,
    rule: e.ruleName,
    rule_id: e.ruleId,
    value: e.value === null ? '' : String(Math.round(e.value * 1000) / 1000),
    threshold: e.threshold === null ? '' : String(e.threshold),
    alert_id: e.alertId ?? '',
    time: new Date(e.atMs).toISOString(),
    host: e.host,
  };
  for (const [k, v] of Object.entries(e.labels)) f[`labels.${k}`] = v;
  return f;
}

/** `{{ name }}` replaced by the field, HTML-escaped when `escape`; anything else stays as written. */
export function renderTemplate(text: string, fields: Record<string, string>, escape = false): string {
  return text.replace(/\{\{\s*([a-z_][a-z0-9_.]*)\s*\}\}/gi, (_, name: string) => {
    const v = fields[name] ?? '';
    return escape ? escapeHtml(v) : v;
  });
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const DEFAULT_SUBJECT = '[perfwatch] {{ level }} {{ status }}: {{ title }}';
export const DEFAULT_TEXT = [
  '{{ title }}',
  '',
  '{{ message }}',
  '',
  'status: {{ status }}',
  'level: {{ level }}',
  'value: {{ value }} (threshold {{ threshold }})',
  'rule: {{ rule }}',
  'host: {{ host }}',
  'time: {{ time }}',
  'alert: {{ alert_id }}',
].join('\n');

export function renderEvent(e: ChannelEvent, t: { subject?: string | undefined; text?: string | undefined } = {}): Rendered {
  const f = templateFields(e);
  const text = renderTemplate(t.text ?? DEFAULT_TEXT, f);
  const subject = renderTemplate(t.subject ?? DEFAULT_SUBJECT, f).replace(/[\r\n]+/g, ' ');
  const labels = Object.entries(e.labels).map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const html = [
    `<h2 style="margin:0">${LEVEL_MARK[e.level] ?? ''} ${escapeHtml(e.title)}</h2>`,
    `<p>${escapeHtml(e.message)}</p>`,
    '<table cellpadding="4">',
    `<tr><th align="left">status</th><td>${escapeHtml(e.status)}</td></tr>`,
    `<tr><th align="left">level</th><td>${escapeHtml(e.level)}</td></tr>`,
    `<tr><th align="left">value</th><td>${escapeHtml(f.value!)} (threshold ${escapeHtml(f.threshold!)})</td></tr>`,
    `<tr><th align="left">rule</th><td>${escapeHtml(e.ruleName)}</td></tr>`,
    `<tr><th align="left">host</th><td>${escapeHtml(e.host)}</td></tr>`,
    `<tr><th align="left">time</th><td>${escapeHtml(f.time!)}</td></tr>`,
    labels,
    '</table>',
  ].join('\n');
  return { subject, text, html };
}

/** Chat text: a first line with the level mark and the state, then the body. */
function chatText(e: ChannelEvent, r: Rendered): string {
  return `${LEVEL_MARK[e.level] ?? ''} [${e.status.toUpperCase()}] ${r.subject}\n\n${r.text}`;
}

/** A request a chat channel sends: the URL (DingTalk signs in the query) and the JSON body. */
export interface ChatRequest {
  url: string;
  body: Record<string, unknown>;
}

/** Slack incoming webhook: `text` (the notification and fallback) and Block Kit blocks. */
export function slackRequest(url: string, e: ChannelEvent, r: Rendered): ChatRequest {
  return {
    url,
    body: {
      text: chatText(e, r),
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: `${LEVEL_MARK[e.level] ?? ''} ${r.subject}`.slice(0, 150) } },
        { type: 'section', text: { type: 'mrkdwn', text: r.text.slice(0, 3000) } },
      ],
    },
  };
}

/**
 * DingTalk custom robot: a markdown message; with a secret, `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key =
 * secret, "<timestamp>\n<secret>")) are added to the query, as DingTalk's "加签" requires.
 */
export function dingtalkRequest(url: string, e: ChannelEvent, r: Rendered, secret: string | null, nowMs: number): ChatRequest {
  let target = url;
  if (secret) {
    const timestamp = String(nowMs);
    const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
    const u = new URL(url);
    u.searchParams.set('timestamp', timestamp);
    u.searchParams.set('sign', sign);
    target = u.toString();
  }
  return { url: target, body: { msgtype: 'markdown', markdown: { title: r.subject.slice(0, 64), text: `### ${LEVEL_MARK[e.level] ?? ''} ${r.subject}\n\n${r.text.replace(/\n/g, '  \n')}` } } };
}

/**
 * Feishu/Lark custom bot: a text message; with a secret, `timestamp` (s) and `sign` = base64(HMAC-SHA256(key =
 * "<timestamp>\n<secret>", message = "")) go in the body, as Feishu's signature check requires.
 */
export function feishuRequest(url: string, e: ChannelEvent, r: Rendered, secret: string | null, nowMs: number): ChatRequest {
  const body: Record<string, unknown> = { msg_type: 'text', content: { text: chatText(e, r) } };
  if (secret) {
    const timestamp = String(Math.floor(nowMs / 1000));
    body.timestamp = timestamp;
    body.sign = createHmac('sha256', `${timestamp}\n${secret}`).update('').digest('base64');
  }
  return { url, body };
}

/** WeCom (企业微信) group robot: a markdown message (at most 4096 bytes). */
export function wecomRequest(url: string, e: ChannelEvent, r: Rendered): ChatRequest {
  let content = `### ${LEVEL_MARK[e.level] ?? ''} ${r.subject}\n${r.text}`;
  while (Buffer.byteLength(content) > 4096) content = content.slice(0, -64);
  return { url, body: { msgtype: 'markdown', markdown: { content } } };
}


/**
 * POSTs a chat request and reads the service's own verdict: DingTalk and WeCom answer HTTP 200 with `errcode` ≠ 0 on
 * refusal, Feishu `code` ≠ 0; Slack answers `ok` as text. 4xx (but 408/429) and a refusal in the body are permanent.
 */
export async function postChat(req: ChatRequest, timeoutMs: number): Promise<void> {
  const res = await fetch(req.url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'perfwatch' }, body: JSON.stringify(req.body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text().catch(() => '');
  if (!res.ok) {
    const msg = `answered ${res.status}: ${text.slice(0, 200)}`;
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentFailure(msg);
    throw new Error(msg);
  }
  type Verdict = { errcode?: number; code?: number; errmsg?: string; msg?: string };
  let parsed: Verdict | null;
  try {
    parsed = JSON.parse(text) as Verdict;
  } catch {
    parsed = null; // Slack answers "ok"
  }
  const code = parsed?.errcode ?? parsed?.code ?? 0;
  if (code !== 0) throw new PermanentFailure(`refused: ${code} ${parsed?.errmsg ?? parsed?.msg ?? ''}`.trim());
}

export interface ChannelConfig {
  name: string;
  type: ChannelType;
  levels?: readonly string[] | undefined;
  rules?: readonly string[] | undefined;
  cooldownMs: number;
  sendResolved: boolean;
  subject?: string | undefined;
  text?: string | undefined;
  url?: string | undefined;
  secret: string | null;
  to?: readonly string[] | undefined;
  from?: string | undefined;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  maxQueue: number;
}

/** One configured channel: routing (levels, rules, cooldown per rule), rendering, its queue. */
export class Channel {
  readonly config: ChannelConfig;
  #queue: DeliveryQueue<ChannelEvent>;
  /** Per rule: when its last firing notification went into the queue (cooldown), and whether it did (resolved follows). */
  #lastFiring = new Map<string, number>();
  #notified = new Set<string>();
  #onResult: (result: ChannelResult) => void;
  #mailer: Transporter | undefined;

  constructor(config: ChannelConfig, o: { mailer?: Transporter | undefined; onResult: (result: ChannelResult) => void; onError?: (err: unknown, attempt: number) => void; now?: () => number }) {
    this.config = config;
    this.#onResult = o.onResult;
    this.#mailer = o.mailer;
    const now = o.now ?? Date.now;
    const c = config;
    const deliver = async (e: ChannelEvent) => {
      const r = renderEvent(e, { subject: c.subject, text: c.text });
      switch (c.type) {
        case 'email':
          await o.mailer!.sendMail({ from: c.from, to: [...(c.to ?? [])], subject: r.subject, text: r.text, html: r.html });
          return;
        case 'slack':
          return postChat(slackRequest(c.url!, e, r), c.timeoutMs);
        case 'dingtalk':
          return postChat(dingtalkRequest(c.url!, e, r, c.secret, now()), c.timeoutMs);
        case 'feishu':
          return postChat(feishuRequest(c.url!, e, r, c.secret, now()), c.timeoutMs);
        case 'wecom':
          return postChat(wecomRequest(c.url!, e, r), c.timeoutMs);
      }
    };
    this.#queue = new DeliveryQueue({ deliver, retries: c.retries, backoffMs: c.backoffMs, maxQueue: c.maxQueue, onResult: o.onResult, onError: o.onError });
  }

  get pending(): number {
    return this.#queue.pending;
  }

  /**
   * A scheduled report (docs/reports.md#schedules): email gets the file attached, chat channels the text (with the
   * download link). Sent at once, without the alert routing, cooldown or queue; rejects when delivery fails.
   */
  async deliverReport(m: { subject: string; text: string; attachment?: { filename: string; path: string } }): Promise<void> {
    const c = this.config;
    const e: ChannelEvent = { status: 'report', ruleId: '', ruleName: '', level: 'info', title: m.subject, message: m.text, value: null, threshold: null, labels: {}, alertId: null, atMs: Date.now(), host: '' };
    const r: Rendered = { subject: m.subject, text: m.text, html: `<p>${escapeHtml(m.text).replace(/\n/g, '<br>')}</p>` };
    if (c.type === 'email') {
      await this.#mailer!.sendMail({ from: c.from, to: [...(c.to ?? [])], subject: r.subject, text: r.text, html: r.html, ...(m.attachment ? { attachments: [m.attachment] } : {}) });
      return;
    }
    const req = c.type === 'slack' ? slackRequest(c.url!, e, r) : c.type === 'dingtalk' ? dingtalkRequest(c.url!, e, r, c.secret, Date.now()) : c.type === 'feishu' ? feishuRequest(c.url!, e, r, c.secret, Date.now()) : wecomRequest(c.url!, e, r);
    await postChat(req, c.timeoutMs);
  }

  /** Routes one transition: level and rule filters, then the per-rule cooldown for firing, send_resolved for resolved. */
  offer(e: ChannelEvent): void {
    const c = this.config;
    if (c.levels && !c.levels.includes(e.level)) return;
    if (c.rules && !c.rules.includes(e.ruleName) && !c.rules.includes(e.ruleId)) return;
    const key = `${e.ruleId}\0${JSON.stringify(e.labels)}`;
    if (e.status === 'firing') {
      const last = this.#lastFiring.get(e.ruleId);
      if (last !== undefined && e.atMs - last < c.cooldownMs) {
        this.#onResult('suppressed');
        return;
      }
      this.#lastFiring.set(e.ruleId, e.atMs);
      this.#notified.add(key);
    } else {
      // a resolve is told only where its fire was
      if (!this.#notified.delete(key) || !c.sendResolved) return;
    }
    this.#queue.push(e);
  }

  idle(): Promise<void> {
    return this.#queue.idle();
  }

  stop(): void {
    this.#queue.stop();
  }
}
