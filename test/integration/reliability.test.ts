import t from 'tap';
import { auth, getJson, nodePlugin, startApp, waitFor } from '../helpers/index.js';

/** Regression tests for what a hostile or unlucky user broke (issue 11), each through the public surface. */

const post = (url: string) => fetch(url, { method: 'POST', headers: auth, signal: AbortSignal.timeout(15_000) });

t.test('reload of a plugin that exits within start_grace is answered, and stop and shutdown still finish', async (t) => {
  const pw = await startApp(t, {
    collection: { interval: '200ms' },
    plugins: [nodePlugin('crasher', 'crash.cjs', { max_restarts: 3, backoff_initial: '500ms', start_grace: '2s' })],
  });
  await waitFor(() => pw.supervisor.get('crasher').state === 'error', { timeoutMs: 15_000, what: 'crasher in error after max_restarts' });
  // used to hang forever: the reload waited for a state change that a `starting → starting` restart never emits
  const reload = await post(`${pw.url}/plugin/crasher/reload`);
  t.equal(reload.status, 500, 'answered, as a start failure');
  t.match(await reload.json(), { code: 'PLUGIN_START_FAILED', detail: /exited during start \(exit code 3\)/ });
  // the operation lock is free again: status, stop and start answer
  t.equal((await getJson(`${pw.url}/plugin/status?plugin_id=crasher`)).status, 200);
  const stop = await post(`${pw.url}/plugin/crasher/stop`);
  t.ok([200, 409].includes(stop.status), `stop answered (${stop.status})`);
  await waitFor(() => ['stopped', 'error'].includes(pw.supervisor.get('crasher').state), { timeoutMs: 10_000, what: 'crasher settled' });
  t.equal(pw.supervisor.get('crasher').pid, null, 'no process left');
  const started = Date.now();
  await pw.stop();
  t.ok(Date.now() - started < 10_000, 'shutdown finished');
});
