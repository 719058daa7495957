import os from 'node:os';
import type { Sink } from '../../pipeline/pipeline.js';
import { CustomFamilies } from './custom-families.js';
import { Exposition } from './exposition.js';
import { HostMetrics } from './host-metrics.js';
import { createMetricsRouter } from './routes.js';

/**
 * The Prometheus side: its own registry (every feature defines its metrics on it), the host and custom families,
 * `/metrics`, and two sinks: `prometheus` applies the snapshot to the registry, `exposition` renders it once (last, so
 * every gauge read at render time — alerts, queues, clients — is this tick's).
 */
export function createPrometheus(o: { version: string; ringBytes: () => number }) {
  const exposition = new Exposition({ version: o.version });
  const hostMetrics = new HostMetrics(exposition.registry, { hostname: os.hostname(), kernel: os.release(), os: os.type(), arch: os.machine?.() ?? os.arch() });
  const customFamilies = new CustomFamilies(exposition.registry);
  const update: Sink = {
    name: 'prometheus',
    onTick(s) {
      if (s.host && s.host.timestampMs === s.timestampMs) hostMetrics.update(s.host);
      exposition.update(s, o.ringBytes());
    },
  };
  const render: Sink = {
    name: 'exposition',
    after: ['prometheus'],
    onTick: () => exposition.render(),
  };
  return { exposition, registry: exposition.registry, customFamilies, router: createMetricsRouter({ exposition }), sinks: { update, render } };
}
