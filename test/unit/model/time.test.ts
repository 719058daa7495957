import t from 'tap';
import { formatLocalIso, parseIsoTime } from '../../../src/model/time.js';

t.test('format: local offset and six fractional digits', async (t) => {
  const ms = Date.UTC(2026, 0, 26, 6, 30, 0) + 123.456;
  const s = formatLocalIso(ms);
  t.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.123456[+-]\d\d:\d\d$/);
  t.equal(parseIsoTime(s), ms, 'round-trips to the microsecond');
  t.match(formatLocalIso(Date.UTC(2026, 0, 1)), /\.000000/);
});

t.test('parse', async (t) => {
  t.equal(parseIsoTime('2026-01-26T14:30:00.123456+08:00'), Date.UTC(2026, 0, 26, 6, 30, 0) + 123.456);
  t.equal(parseIsoTime('2026-01-26T06:30:00Z'), Date.UTC(2026, 0, 26, 6, 30, 0));
  t.equal(parseIsoTime('2026-01-26T06:30:00-0130'), Date.UTC(2026, 0, 26, 8, 0, 0));
  t.equal(parseIsoTime('2026-01-26 06:30Z'), Date.UTC(2026, 0, 26, 6, 30, 0), 'space separator, no seconds');
  t.equal(parseIsoTime('2026-01-26'), new Date(2026, 0, 26).getTime(), 'a date alone is local midnight');
  t.equal(parseIsoTime('2026-01-26T10:00:00'), new Date(2026, 0, 26, 10).getTime(), 'no offset = local time');
  for (const bad of ['yesterday', '2026-13-01T00:00:00', '2026-02-30T00:00:00Z', '2026-01-01T25:00:00', '2026-1-1', '']) {
    t.equal(parseIsoTime(bad), null, bad);
  }
});

t.test('years 0000-0099 are those years, not 1900-1999; offsets past ±23:59 are refused', async (t) => {
  t.equal(new Date(parseIsoTime('0050-06-01T00:00:00Z')!).toISOString(), '0050-06-01T00:00:00.000Z');
  t.equal(new Date(parseIsoTime('0001-01-01T00:00:00Z')!).getUTCFullYear(), 1);
  t.equal(new Date(parseIsoTime('0099-12-31')!).getFullYear(), 99, 'a local date in year 99');
  t.equal(parseIsoTime('0000-02-29T00:00:00Z') !== null, true, 'year 0 is a leap year in the proleptic calendar');
  for (const bad of ['2026-01-01T00:00:00+99:99', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00-12:60', '2026-01-01T00:00:00+2500']) t.equal(parseIsoTime(bad), null, bad);
  t.equal(parseIsoTime('2026-01-01T00:00:00+14:00'), Date.UTC(2025, 11, 31, 10), 'the widest real offset');
});
