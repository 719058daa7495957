import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { auth, getJson, startApp, tempDir, waitFor } from '../helpers/index.js';
import { startPeer } from '../helpers/peers.js';

t.test('alerts reach a real Alertmanager as Prometheus sends them, and resolve there', async (t) => {
  const dir = tempDir(t);
  const amConfig = path.join(dir, 'alertmanager.yml');
  writeFileSync(amConfig, 'route:\n  receiver: blackhole\n  group_wait: 0s\nreceivers:\n  - name: blackhole\n');
  const am = await startPeer(t, 'prometheus-alertmanager', (data) => [
    `--config.file=${amConfig}`,
    `--storage.path=${data}`,
    '--web.listen-address=127.0.0.1:0',
    '--cluster.listen-address=',
  ]);
  const pw = await startApp(t, {
    collection: { interval: '250ms' },
    alerting: { default_rules: false, instance: 'test-host', alertmanager: { url: am.url, resend_delay: '1s' } },
  });
  const api = `${pw.url}/api/v1/performance`;
  const post = (p: string, body: unknown) => fetch(`${api}${p}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.equal((await post('/alerts/rules', { name: 'queue_high', metric: 'queue_length', operator: '>', threshold: 10, level: 'critical', description: 'Queue too long', actions: ['alertmanager'] })).status, 200);
  await post('/metrics', { name: 'queue_length', value: 20, tags: { service: 'api' } });

  const amAlerts = async () => (await getJson(`${am.url}/api/v2/alerts`)).body as any[];
  const [got] = await waitFor(async () => {
    const list = await amAlerts();
    return list.length ? list : null;
  }, { what: 'the alert in Alertmanager' });
  t.same(got.labels, { alertname: 'QueueHigh', instance: 'test-host', perfwatch_rule: 'rule_001', service: 'api', severity: 'critical' });
  t.match(got.annotations, { summary: 'Queue too long', description: 'queue_length is 20 (threshold > 10)' });
  t.equal(got.status.state, 'active');
  const [alert] = (await getJson(`${api}/alerts`)).body.data.alerts;
  t.equal(Date.parse(got.startsAt), Date.parse(alert.created_at), 'startsAt = when it fired');
  const endsIn = Date.parse(got.endsAt) - Date.parse(got.updatedAt);
  t.ok(endsIn > 3000 && endsIn <= 4000 + 1000, `endsAt ≈ now + 4 × max(resend_delay, interval) (${endsIn} ms)`);
  t.match(got.generatorURL, `${pw.url}/api/v1/performance/alerts?rule_id=rule_001`);

  // re-sent while firing: updatedAt moves on
  const firstUpdate = got.updatedAt;
  await waitFor(async () => (await amAlerts())[0]?.updatedAt !== firstUpdate, { what: 'a re-send after resend_delay' });

  // resolve: a post with endsAt = the resolve time; Alertmanager stops listing it as active
  await post('/metrics', { name: 'queue_length', value: 1, tags: { service: 'api' } });
  await waitFor(async () => (await amAlerts()).length === 0, { what: 'the alert resolved in Alertmanager' });
  const [resolved] = (await getJson(`${api}/alerts?resolved=true`)).body.data.alerts;
  t.equal(resolved.status, 'resolved');
  const text = await waitFor(async () => {
    const body = await (await fetch(`${pw.url}/metrics`)).text();
    return /action="alertmanager",result="sent"\} [3-9]/.test(body) ? body : null;
  });
  t.match(text, /action="alertmanager",result="failed"\} 0/, 'no failed push');
});
