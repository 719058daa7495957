import { Failure, useApi, useCtx } from '../ctx';
import { bytes, duration } from '../format';

/** `GET /api/v1/performance/system`, as tables. */
export function SystemPage() {
  const { t } = useCtx();
  const sys = useApi<any>('/api/v1/performance/system');
  const s = sys.data;
  return (
    <div class="page">
      <Failure error={sys.error} />
      {s ? (
        <>
          <section class="split">
            <div class="card">
              <h2>{t('system.host')}</h2>
              <dl data-testid="system-host">
                <dt>{t('system.hostname')}</dt><dd>{s.hostname}</dd>
                <dt>{t('system.platform')}</dt><dd>{s.platform} {s.platform_version}</dd>
                <dt>{t('system.architecture')}</dt><dd>{s.architecture}</dd>
                <dt>{t('system.runtime')}</dt><dd>{s.python_version}</dd>
                <dt>{t('system.uptime')}</dt><dd>{duration(s.uptime)}</dd>
                <dt>{t('system.loadAverage')}</dt><dd>{(s.load_average ?? []).map((x: number) => x.toFixed(2)).join(' · ')}</dd>
              </dl>
            </div>
            <div class="card">
              <h2>{t('system.cpu')}</h2>
              <dl>
                <dt>{t('system.model')}</dt><dd>{s.cpu_info.model}</dd>
                <dt>{t('system.coresThreads')}</dt><dd>{s.cpu_info.cores} / {s.cpu_info.threads}</dd>
                <dt>{t('system.frequency')}</dt><dd>{s.cpu_info.frequency} MHz</dd>
              </dl>
              <h2>{t('system.memory')}</h2>
              <dl>
                <dt>{t('system.total')}</dt><dd>{bytes(s.memory_info.total)}</dd>
                <dt>{t('system.available')}</dt><dd>{bytes(s.memory_info.available)}</dd>
                <dt>{t('system.swap')}</dt><dd>{bytes(s.memory_info.swap_available)} / {bytes(s.memory_info.swap_total)}</dd>
              </dl>
            </div>
          </section>
          <h2>{t('system.disks')}</h2>
          <div class="table-wrap">
            <table>
              <thead><tr><th>{t('system.device')}</th><th>{t('system.mountpoint')}</th><th>{t('system.filesystem')}</th><th class="num">{t('system.total')}</th><th class="num">{t('system.free')}</th></tr></thead>
              <tbody>{s.disk_info.map((d: any) => <tr><td>{d.device}</td><td>{d.mountpoint}</td><td>{d.filesystem}</td><td class="num">{bytes(d.total)}</td><td class="num">{bytes(d.free)}</td></tr>)}</tbody>
            </table>
          </div>
          <h2>{t('system.network')}</h2>
          <div class="table-wrap">
            <table>
              <thead><tr><th>{t('system.interface')}</th><th>{t('system.address')}</th><th>MAC</th><th>{t('system.up')}</th></tr></thead>
              <tbody>{s.network_info.map((n: any) => <tr><td>{n.interface}</td><td>{n.ip_address}</td><td>{n.mac_address}</td><td>{n.is_up ? t('common.yes') : t('common.no')}</td></tr>)}</tbody>
            </table>
          </div>
        </>
      ) : null}
    </div>
  );
}
