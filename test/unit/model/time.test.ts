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
