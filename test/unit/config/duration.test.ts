import t from 'tap';
import { parseDuration } from '../../../src/config/duration.js';

t.equal(parseDuration('500ms'), 500);
t.equal(parseDuration('5s'), 5000);
t.equal(parseDuration('2m'), 120_000);
t.equal(parseDuration('1h'), 3_600_000);
t.equal(parseDuration('1.5s'), 1500);
t.equal(parseDuration(3), 3000, 'a number is seconds');
t.equal(parseDuration('10'), 10_000, 'a numeric string is seconds');
t.equal(parseDuration(0.25), 250);
for (const bad of ['5 s', 's', '', '-1s', '1d', 'soon', null, true, -1, Number.NaN, Number.POSITIVE_INFINITY, {}]) {
  t.equal(parseDuration(bad), null, `${JSON.stringify(bad)} is rejected`);
}
