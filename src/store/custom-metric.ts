import { DomainError } from '../model/errors.js';
/**
 * Validation of ingested samples (`POST /api/v1/performance/metrics[/batch]`) and the mapping of their names, units
 * and tags to Prometheus names that `promtool check metrics` accepts (promlint's rules: base units, no unit
 * abbreviations or type words in names, no `_total`/`_count`/`_sum`/`_bucket` on gauges, snake_case, reserved labels).
 */

export const NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const LIMITS = { name: 200, unit: 32, category: 64, tags: 16, tagKey: 64, tagValue: 256 } as const;

/** Units with a known conversion to a Prometheus base unit: factor and name suffix. Others are kept as free text. */
export const UNITS: Record<string, { factor: number; suffix: string }> = {
  ns: { factor: 1e-9, suffix: 'seconds' },
  us: { factor: 1e-6, suffix: 'seconds' },
  ms: { factor: 1e-3, suffix: 'seconds' },
  s: { factor: 1, suffix: 'seconds' },
  sec: { factor: 1, suffix: 'seconds' },
  seconds: { factor: 1, suffix: 'seconds' },
  min: { factor: 60, suffix: 'seconds' },
  minutes: { factor: 60, suffix: 'seconds' },
  h: { factor: 3600, suffix: 'seconds' },
  hours: { factor: 3600, suffix: 'seconds' },
  B: { factor: 1, suffix: 'bytes' },
  bytes: { factor: 1, suffix: 'bytes' },
  KB: { factor: 1024, suffix: 'bytes' },
  MB: { factor: 1024 ** 2, suffix: 'bytes' },
  GB: { factor: 1024 ** 3, suffix: 'bytes' },
  '%': { factor: 0.01, suffix: 'ratio' },
  percent: { factor: 0.01, suffix: 'ratio' },
  ratio: { factor: 1, suffix: 'ratio' },
  count: { factor: 1, suffix: '' },
};

/** Name parts promlint rejects (unit abbreviations, non-base units, type words): dropped from exported names. */
const BANNED_PARTS = new Set([
  's', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd',
  'milliseconds', 'microseconds', 'nanoseconds', 'minutes', 'hours', 'days', 'kilobytes', 'megabytes', 'gigabytes', 'bits', 'percent',
  'counter', 'gauge', 'histogram', 'summary',
]);
const RESERVED_SUFFIX = /_(total|count|sum|bucket)$/;
const RESERVED_LABELS = new Set(['le', 'quantile', 'job', 'instance']);

export interface CustomSample {
  name: string;
  value: number;
  unit: string;
  category: string;
  tags: Record<string, string>;
}

export class SampleError extends DomainError<'INVALID_METRIC_VALUE' | 'INVALID_METRIC'> {
  declare readonly field: string;
  constructor(code: 'INVALID_METRIC_VALUE' | 'INVALID_METRIC', field: string, message: string) {
    super(code, message, field);
  }
}

const KNOWN_FIELDS = new Set(['name', 'value', 'unit', 'category', 'tags', 'timestamp']);

/**
 * Validates one sample body; throws SampleError naming the field and what is accepted. `at` prefixes field names: a
 * string, or a batch index (`metrics[i]`, built only when there is an error: this runs once per ingested sample).
 */
export function validateSample(raw: unknown, at: string | number = ''): CustomSample {
  const where = () => (typeof at === 'number' ? `metrics[${at}]` : at);
  const f = (k: string) => (where() ? `${where()}.${k}` : k);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SampleError('INVALID_METRIC', where() || 'body', `${where() || 'body'}: expected an object`);
  const o = raw as Record<string, unknown>;
  for (const k in o) if (!KNOWN_FIELDS.has(k)) throw new SampleError('INVALID_METRIC', f(k), `${f(k)}: unknown field (accepted: name, value, unit, category, tags)`);
  const name = o.name;
  if (typeof name !== 'string' || name.length > LIMITS.name || !NAME_RE.test(name) || name.startsWith('__')) {
    throw new SampleError('INVALID_METRIC', f('name'), `${f('name')}: expected [a-zA-Z_][a-zA-Z0-9_]* of at most ${LIMITS.name} characters, not starting with "__" (reserved)`);
  }
  const value = o.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SampleError('INVALID_METRIC_VALUE', f('value'), `${f('value')}: expected a finite number (got ${typeof value === 'number' ? String(value) : typeof value})`);
  }
  const unit = o.unit ?? '';
  if (typeof unit !== 'string' || unit.length > LIMITS.unit) throw new SampleError('INVALID_METRIC', f('unit'), `${f('unit')}: expected a string of at most ${LIMITS.unit} characters`);
  if (!Number.isFinite(value * unitConversion(unit).factor)) {
    throw new SampleError('INVALID_METRIC_VALUE', f('value'), `${f('value')}: ${value} ${unit} is beyond what a 64-bit float holds in base units`);
  }
  const category = o.category ?? '';
  if (typeof category !== 'string' || category.length > LIMITS.category) {
    throw new SampleError('INVALID_METRIC', f('category'), `${f('category')}: expected a string of at most ${LIMITS.category} characters`);
  }
  const tags = o.tags ?? {};
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) throw new SampleError('INVALID_METRIC', f('tags'), `${f('tags')}: expected a flat object of strings`);
  const t = tags as Record<string, unknown>;
  let n = 0;
  for (const k in t) {
    if (++n > LIMITS.tags) throw new SampleError('INVALID_METRIC', f('tags'), `${f('tags')}: at most ${LIMITS.tags} tags`);
    if (k.length > LIMITS.tagKey || !NAME_RE.test(k)) throw new SampleError('INVALID_METRIC', f(`tags.${k}`), `${f('tags')}: key "${k}" must match [a-zA-Z_][a-zA-Z0-9_]* (at most ${LIMITS.tagKey} characters)`);
    const v = t[k];
    if (typeof v !== 'string' || v.length > LIMITS.tagValue) throw new SampleError('INVALID_METRIC', f(`tags.${k}`), `${f(`tags.${k}`)}: expected a string of at most ${LIMITS.tagValue} characters`);
  }
  // a JSON-parsed object has only own, plain properties: kept as is rather than copied
  return { name, value, unit, category, tags: (o.tags === undefined ? {} : t) as Record<string, string> };
}

/** The unit's conversion to a base unit (own keys only: `constructor` is a free-text unit, not Object). */
function unitConversion(unit: string): { factor: number; suffix: string } {
  if (Object.hasOwn(UNITS, unit)) return UNITS[unit]!;
  const lower = unit.toLowerCase();
  return Object.hasOwn(UNITS, lower) ? UNITS[lower]! : { factor: 1, suffix: '' };
}

/** The identity of a custom series: name plus sorted tags. */
export function seriesKey(s: { name: string; tags: Record<string, string> }): string {
  const keys = Object.keys(s.tags).sort();
  return `custom:${s.name}${keys.length ? `{${keys.map((k) => `${k}=${JSON.stringify(s.tags[k])}`).join(',')}}` : ''}`;
}

function snake(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/** Exported name and value factor: `perfwatch_custom_<snake name without banned parts>[_<base unit>]`. */
export function promNameFor(name: string, unit: string): { name: string; factor: number } {
  const conv = unitConversion(unit);
  let parts = snake(name)
    .split('_')
    .filter((p) => p && !BANNED_PARTS.has(p));
  if (conv.suffix && parts.at(-1) === conv.suffix) parts = parts.slice(0, -1);
  let base = parts.join('_') || 'value';
  if (conv.suffix) base += `_${conv.suffix}`;
  if (RESERVED_SUFFIX.test(base)) base += '_value';
  return { name: `perfwatch_custom_${base}`, factor: conv.factor };
}

/** Exported label name for a tag key: snake_case; reserved names (le, quantile, job, instance, __*) get `tag_`. */
export function promLabelFor(key: string): string {
  const k = snake(key);
  return RESERVED_LABELS.has(k) || k.startsWith('__') ? `tag_${k.replace(/^_+/, '')}` : k;
}
