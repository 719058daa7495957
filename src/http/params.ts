import { parseIsoTime } from '../model/time.js';
import { ApiError } from './api-error.js';

/** Query-parameter parsers shared by every route family: each throws INVALID_PARAMETER naming the parameter and what it accepts. */

/** A parameter given once: a repeated one (`?a=1&a=2`) is refused rather than silently reduced to one value. */
function once(raw: unknown, name: string): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new ApiError('INVALID_PARAMETER', `${name} must be given once`, { field: name });
  return raw;
}

export function intParam(raw: unknown, name: string, def: number, min: number, max: number): number {
  const s = once(raw, name);
  if (s === undefined) return def;
  if (!/^\d{1,9}$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new ApiError('INVALID_PARAMETER', `${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(s.slice(0, 40))})`, { field: name });
  }
  return Number(s);
}

/** A comma-separated list of 1 to `max` distinct names (duplicates are dropped, order kept); null when absent. */
export function listParam(raw: unknown, name: string, max = 50): string[] | null {
  const s = once(raw, name);
  if (s === undefined) return null;
  const items = [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))];
  if (!items.length || items.length > max) throw new ApiError('INVALID_PARAMETER', `${name} must list 1 to ${max} distinct names`, { field: name });
  return items;
}

/** One of the allowed strings, or undefined when absent. */
export function oneOf<T extends string>(raw: unknown, name: string, allowed: readonly T[]): T | undefined {
  const s = once(raw, name);
  if (s === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(s)) {
    throw new ApiError('INVALID_PARAMETER', `${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(s.slice(0, 40))})`, { field: name });
  }
  return s as T;
}

/** A free-text parameter given at most once, of 1 to `maxLength` characters; undefined when absent. */
export function textParam(raw: unknown, name: string, maxLength: number): string | undefined {
  const s = once(raw, name);
  if (s === undefined) return undefined;
  if (!s.length || s.length > maxLength) throw new ApiError('INVALID_PARAMETER', `${name} must be 1 to ${maxLength} characters`, { field: name });
  return s;
}

/** An ISO 8601 date-time (an offset-less one is local time) as epoch ms; undefined when absent. */
export function timeParam(raw: unknown, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const ms = typeof raw === 'string' ? parseIsoTime(raw) : null;
  if (ms === null) {
    throw new ApiError('INVALID_PARAMETER', `${name} must be an ISO 8601 date-time such as 2026-01-26T14:30:00+08:00 (got ${JSON.stringify(raw).slice(0, 80)})`, { field: name });
  }
  return ms;
}
