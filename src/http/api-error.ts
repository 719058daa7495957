import type { z } from 'zod';
import { DomainError } from '../model/errors.js';
import { formatPath, issuesToProblems } from '../model/issues.js';

/**
 * Every error code perfwatch answers with, once, with its HTTP status and meaning. docs/errors.md lists the same
 * table; a test fails when the two drift.
 */
export const ERROR_CODES = {
  INVALID_PARAMETER: { status: 400, description: 'A query or path parameter is malformed or out of range; the message names it and what is accepted.' },
  INVALID_JSON: { status: 400, description: 'The request body is not JSON, or not the shape the route takes.' },
  INVALID_METRIC: { status: 400, description: 'A custom metric sample has a bad name, unit, category or tags; the message names the field (and, in a batch, the index).' },
  INVALID_METRIC_VALUE: { status: 400, description: 'A custom metric value is not a finite number (NaN, Infinity, a string…).' },
  BATCH_TOO_LARGE: { status: 400, description: 'A batch holds more samples than `custom_metrics.max_batch`, or a plugin report more calls than `service_metrics.max_batch`; nothing of it was applied.' },
  RULE_CREATION_FAILED: { status: 400, description: 'An alert rule sent to `POST alerts/rules` failed validation; the message names each bad field. Nothing was stored.' },
  RULE_UPDATE_FAILED: { status: 400, description: 'A `PUT alerts/rules/{rule_id}` body failed validation; the rule was left as it was.' },
  PROJECT_KEY_INVALID: { status: 401, description: 'A request record came without `X-Project-Key` (or `project_key`), or with a key no project has (`profiling.projects`, or made through `POST projects`).' },
  UNAUTHORIZED: { status: 401, description: 'The route needs `Authorization: Bearer <admin token>` and it was missing or wrong.' },
  FORBIDDEN_ORIGIN: { status: 403, description: 'With `auth.open_writes`, a write came from a browser page of another origin (`Origin` or `Sec-Fetch-Site` says so): refused, so no web page can write through a visitor\'s browser. Send the admin token to write from anywhere.' },
  NOT_FOUND: { status: 404, description: 'No such route.' },
  PLUGIN_NOT_FOUND: { status: 404, description: 'No plugin is registered under that id.' },
  RULE_NOT_FOUND: { status: 404, description: 'No alert rule has that id.' },
  PROJECT_NOT_FOUND: { status: 404, description: 'No profiling project has this name.' },
  ANALYSIS_NOT_FOUND: { status: 404, description: 'No analysis has this id (analyses go with their record when it ages out).' },
  RECORD_NOT_FOUND: { status: 404, description: 'No request record has this id (it may have aged out: `profiling.retention`, `profiling.max_records`).' },
  TREE_NOT_FOUND: { status: 404, description: 'The record has no sampled (CPU) tree: its app runs the SDK without `profiler: inspector`, or the request had fewer samples than `profiler_min_samples`.' },
  REPORT_NOT_FOUND: { status: 404, description: 'No report has that id (it may have been deleted or pruned: `reports.max_age`, `reports.max_count`).' },
  ALERT_NOT_FOUND: { status: 404, description: 'No alert has that id (it may have been pruned past `alerting.history_limit`).' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The route exists but not for this method; `Allow` lists the methods it takes.' },
  NOT_IMPLEMENTED: { status: 501, description: 'The method is not one perfwatch serves on any route (`TRACE`, `PROPFIND`, …).' },
  PLUGIN_ALREADY_RUNNING: { status: 409, description: 'Start was asked for a plugin that already has a process.' },
  PLUGIN_NOT_RUNNING: { status: 409, description: 'Stop was asked for a plugin that has no process, or a heartbeat came for one that has none (it is not recorded).' },
  PLUGIN_DISABLED: { status: 409, description: 'The plugin is `enabled: false` in its configuration and is never started.' },
  PLUGIN_CONFIG_INVALID: { status: 409, description: 'Reload found the plugin\'s definition invalid or gone; the running plugin was left as it was.' },
  PROJECT_EXISTS: { status: 409, description: 'A profiling project of this name exists already (in `profiling.projects` or made through the API).' },
  PROJECT_READ_ONLY: { status: 409, description: 'The profiling project comes from `profiling.projects` in the config file; change it there.' },
  RULE_READ_ONLY: { status: 409, description: 'The rule comes from a rules file (or the shipped defaults); change it there, not through the API.' },
  REPORT_NOT_READY: { status: 409, description: 'The report is still `pending` or `running`; `GET reports/{id}` says which, and `estimated_ready_time` when to ask again.' },
  ALERT_ALREADY_RESOLVED: { status: 409, description: 'The alert was already resolved (by its condition clearing or by hand).' },
  METRIC_NOT_FOUND: { status: 404, description: '`history?metrics=` names a series perfwatch does not have.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body is larger than `server.body_limit`.' },
  SERIES_LIMIT_EXCEEDED: { status: 422, description: 'A new custom series would pass `custom_metrics.max_series` and none is past its TTL; existing series keep updating.' },
  REPORTS_BUSY: { status: 429, description: '`reports.max_queue` reports are waiting to be generated already; nothing was queued. Ask again when one is done.' },
  INTERNAL_ERROR: { status: 500, description: 'Unexpected failure; the log has the cause under the response\'s `X-Request-Id`.' },
  REPORT_GENERATION_FAILED: { status: 500, description: 'The report could not be generated; the message is the cause (e.g. Chromium missing for a PDF, or `reports.timeout`). `GET reports/{id}` keeps it in `error`.' },
  PLUGIN_START_FAILED: { status: 500, description: 'The plugin\'s process could not be spawned (command or cwd missing) or exited during start.' },
  HISTORY_BACKEND_UNAVAILABLE: { status: 503, description: 'With `history.backend: prometheus`, the backend failed or did not answer within its timeout while another agent\'s history (`host=`) was asked for; this agent\'s own history falls back to the local ring instead (docs/fleet.md).' },
  SYSTEM_INFO_UNAVAILABLE: { status: 503, description: 'The static system facts could not be read (yet); the message says why.' },
  CONSOLE_NOT_BUILT: { status: 503, description: 'The web console\'s files are missing from `dist/ui/` (perfwatch runs from a checkout that was not built); `npm run build` builds them.' },
  NOT_READY: { status: 503, description: '`/readyz`: the collectors have not produced a first sample yet.' },
  SHUTTING_DOWN: { status: 503, description: 'perfwatch is stopping and takes no new plugin operations.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error type handlers throw; the error middleware formats it in the envelope of the route's family. */
export class ApiError extends DomainError<ErrorCode> {
  readonly status: number;

  constructor(code: ErrorCode, message: string, opts: { field?: string; status?: number } = {}) {
    super(code, message, opts.field);
    this.status = opts.status ?? ERROR_CODES[code].status;
  }

  /** The one DomainError → HTTP map: a domain error keeps its code, message and field and gets its code's status. */
  static from(err: DomainError): ApiError {
    if (err instanceof ApiError) return err;
    const code = (Object.hasOwn(ERROR_CODES, err.code) ? err.code : 'INTERNAL_ERROR') as ErrorCode;
    return new ApiError(code, err.message, err.field === undefined ? {} : { field: err.field });
  }
}

/**
 * A request body that failed its schema: 400 INVALID_JSON with the first problem, as the config loader words it
 * (`calls[1].duration_ms: …`), its path as the field (`body` for the body itself), and `what`/`after` around it.
 */
export function invalidBody(issues: z.core.$ZodIssue[], what = '', after = ''): ApiError {
  const first = issues[0];
  const field = first?.path.length ? formatPath(first.path) : 'body';
  return new ApiError('INVALID_JSON', `${what}${issuesToProblems(issues.slice(0, 1))[0] ?? 'invalid body'}${after}`, { field });
}
