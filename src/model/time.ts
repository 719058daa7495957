/** `/api/v1/performance` timestamps: ISO 8601 UTC with milliseconds (`2024-01-01T12:00:00.000Z`). */
export const isoUtc = (ms: number) => new Date(Math.floor(ms)).toISOString();

/**
 * Timestamps as the legacy documents stamp them: ISO 8601 in local time with the local offset and six
 * fractional digits (`2026-01-26T14:30:00.123456+08:00`), as Python's `datetime.now().astimezone().isoformat()`.
 */
export function formatLocalIso(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const micros = Math.min(999_999, Math.round((epochMs - Math.floor(whole / 1000) * 1000) * 1000));
  const d = new Date(whole);
  const offsetMin = -d.getTimezoneOffset();
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return (
    `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}` +
    `.${String(micros).padStart(6, '0')}${sign}${p2(Math.floor(abs / 60))}:${p2(abs % 60)}`
  );
}

function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Parses ISO 8601 date or date-time (fractions up to nanoseconds, `Z` or `±HH[:MM]` offsets) into epoch ms.
 * A time without offset is local time, as Python's `fromisoformat` reads it. Returns null for anything else.
 */
export function parseIsoTime(text: string): number | null {
  const m = ISO_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const fracMs = frac ? Number(`0.${frac}`) * 1000 : 0;
  let ms: number;
  if (tz === undefined) {
    const local = new Date(2000, month - 1, day, hour, minute, second);
    local.setFullYear(year, month - 1, day); // the Date constructor reads years 0-99 as 1900-1999
    if (local.getDate() !== day || local.getFullYear() !== year) return null;
    ms = local.getTime();
  } else {
    let offsetMin = 0;
    if (tz !== 'Z') {
      const sign = tz.startsWith('-') ? -1 : 1;
      const digits = tz.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = Number(digits.slice(2, 4) || '0');
      if (oh > 23 || om > 59) return null; // ISO 8601 offsets are ±hh:mm with hh ≤ 23, mm ≤ 59
      offsetMin = sign * (oh * 60 + om);
    }
    const d = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
    d.setUTCFullYear(year, month - 1, day);
    if (d.getUTCDate() !== day || d.getUTCFullYear() !== year) return null;
    ms = d.getTime() - offsetMin * 60_000;
  }
  return ms + fracMs;
}
