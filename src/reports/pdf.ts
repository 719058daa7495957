import { access, constants } from 'node:fs/promises';
import type { ReportContent, SeriesContent } from './content.js';

/**
 * The PDF engine (docs/reports.md says why): the report as HTML, its charts as SVG rendered on the server by ECharts
 * (no browser scripting, no canvas), printed to A4 by Debian's Chromium through playwright-core. Chromium lays out the
 * tables and falls back per glyph between fonts, so Chinese rule titles render with any CJK font installed
 * (`fonts-noto-cjk`); the PDF embeds the glyphs it uses. Charts and printing run in a worker thread, Chromium in its
 * own process: the event loop only waits.
 */

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium to print with: `reports.chromium`, `PERFWATCH_CHROMIUM`, or the first of the usual paths that exists. */
export async function findChromium(configured: string | undefined, env: NodeJS.ProcessEnv): Promise<string | null> {
  for (const p of [configured, env.PERFWATCH_CHROMIUM, ...CHROMIUM_CANDIDATES]) {
    if (!p) continue;
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      if (p === configured || p === env.PERFWATCH_CHROMIUM) return null; // asked for this one: no silent substitute
    }
  }
  return null;
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (v: number | null | undefined, unit = '') => (v === null || v === undefined ? '–' : `${v}${unit}`);

/**
 * A series' points (flat `[t0, v0, t1, v1, …]`, copied), bytes shown in MiB or GiB (whichever keeps the numbers
 * short), and the unit that goes with them.
 */
export function chartData(s: SeriesContent): { unit: string; data: Float64Array } {
  const data = s.data.slice(); // a copy: the content keeps its own values
  let unit = s.unit;
  if (s.unit === 'bytes' || s.unit === 'bytes/s') {
    let max = 0;
    for (let i = 1; i < data.length; i += 2) max = Math.max(max, Math.abs(data[i]!));
    const [factor, name] = max >= 10 * 2 ** 30 ? [2 ** 30, 'GiB'] : max >= 2 ** 20 ? [2 ** 20, 'MiB'] : [2 ** 10, 'KiB'];
    unit = s.unit === 'bytes/s' ? `${name}/s` : name;
    for (let i = 1; i < data.length; i += 2) data[i] = Math.round((data[i]! / factor) * 100) / 100;
  }
  return { unit, data };
}

/**
 * A chart's points from flat `[t, v, …]`, with a null point where buckets are missing (perfwatch was down, a series
 * started late): the line breaks there instead of drawing a straight line across time nobody measured.
 */
export function chartPoints(flat: Float64Array, stepMs: number): Array<[number, number | null]> {
  const points: Array<[number, number | null]> = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (i && flat[i]! - flat[i - 2]! > 1.5 * stepMs) points.push([flat[i - 2]! + stepMs, null]);
    points.push([flat[i]!, flat[i + 1]!]);
  }
  return points;
}

/** One line chart's ECharts option without its data (printPdf puts the points in): a time axis with labels fit to the span, the unit in the title. */
function chartOption(name: string, unit: string, spanMs: number): Record<string, unknown> {
  const labels = spanMs > 2 * 86_400_000 ? '{MM}-{dd} {HH}:{mm}' : spanMs > 3_600_000 ? '{HH}:{mm}' : '{HH}:{mm}:{ss}';
  return {
    animation: false,
    title: { text: unit ? `${name} (${unit})` : name, left: 0, top: 0, textStyle: { fontSize: 12, fontWeight: 'bold', fontFamily: 'Noto Sans CJK SC, sans-serif' } },
    grid: { left: 64, right: 16, top: 30, bottom: 28 },
    xAxis: { type: 'time', min: 'dataMin', max: 'dataMax', axisLabel: { fontSize: 9, hideOverlap: true, formatter: labels }, splitLine: { show: false } },
    yAxis: { type: 'value', axisLabel: { fontSize: 9 }, scale: true },
    series: [{ type: 'line', data: [], showSymbol: false, lineStyle: { width: 1.2 } }],
  };
}

const PDF_OPTIONS = {
  format: 'A4',
  printBackground: true,
  displayHeaderFooter: true,
  headerTemplate: '<span></span>',
  footerTemplate: '<div style="font-size:8px;width:100%;text-align:center;color:#777;font-family:sans-serif"><span class="pageNumber"></span> / <span class="totalPages"></span></div>',
  margin: { top: '16mm', bottom: '16mm', left: '12mm', right: '12mm' },
};

/**
 * The report as a PDF, made in the build worker (build.ts): ECharts renders each chart to SVG into the HTML's
 * `<!--chart:N-->` slots, and Chromium prints it. Both libraries are imported here, at the first PDF, so the main
 * thread never compiles them (half a second), and the worker keeps them for the next report; Chromium is started for
 * each report.
 */
export async function printPdf(c: ReportContent, o: { executablePath: string; timeoutMs: number }): Promise<Buffer> {
  const { html, options, data } = reportHtml(c);
  const echarts = await import('echarts');
  const svgs = options.map((option, n) => {
    (option.series as Array<{ data: unknown }>)[0]!.data = chartPoints(data[n]!, c.step_seconds * 1000);
    const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 680, height: 200 });
    try {
      chart.setOption(option);
      return chart.renderToSVGString();
    } finally {
      chart.dispose();
    }
  });
  const doc = html.replace(/<!--chart:(\d+)-->/g, (_, i: string) => svgs[Number(i)]!);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: o.executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: o.timeoutMs });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(o.timeoutMs);
    await page.setContent(doc, { waitUntil: 'load' });
    return await page.pdf(PDF_OPTIONS);
  } finally {
    await browser.close();
  }
}

/**
 * The report as one HTML document (title page, summary, plugins, alerts, recommendations) with a `<!--chart:N-->` slot
 * per chart, the charts' options and their points.
 */
export function reportHtml(c: ReportContent): { html: string; options: Array<Record<string, unknown>>; data: Float64Array[] } {
  const spanMs = Date.parse(c.period.end) - Date.parse(c.period.start);
  const options: Array<Record<string, unknown>> = [];
  const data: Float64Array[] = [];
  for (const s of c.series) {
    if (s.data.length <= 2) continue;
    const d = chartData(s);
    options.push(chartOption(s.name, d.unit, spanMs));
    data.push(d.data);
  }
  const rows = (cells: unknown[][]) => cells.map((r) => `<tr>${r.map((x) => `<td>${esc(x)}</td>`).join('')}</tr>`).join('');
  const table = (head: string[], body: unknown[][]) => `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.length ? rows(body) : `<tr><td colspan="${head.length}">—</td></tr>`}</tbody></table>`;
  const charts = options.map((_, i) => `<div class="chart"><!--chart:${i}--></div>`);
  const period = c.period.name ? `${c.period.name} (${c.period.start} – ${c.period.end})` : `${c.period.start} – ${c.period.end}`;
  const plugin = (p: ReportContent['plugins']['all'][number]) => [p.plugin_id, p.status, p.health, p.restarts, num(p.cpu_average, '%'), num(p.cpu_maximum, '%'), num(p.memory_average_mb, ' MB'), num(p.memory_maximum_mb, ' MB')];
  const pluginHead = ['plugin', 'status', 'health', 'restarts', 'CPU avg', 'CPU max', 'memory avg', 'memory max'];
  const html = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(c.title)}</title>
<style>
  @page { size: A4; margin: 18mm 14mm 18mm 14mm; }
  body { font-family: "Noto Sans", "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback", sans-serif; font-size: 10pt; color: #1d2430; }
  h1 { font-size: 22pt; margin: 0 0 8mm; } h2 { font-size: 13pt; margin: 8mm 0 3mm; border-bottom: 1px solid #c8ced8; padding-bottom: 1mm; }
  .cover { height: 240mm; display: flex; flex-direction: column; justify-content: center; page-break-after: always; }
  .cover dl { display: grid; grid-template-columns: 45mm auto; row-gap: 2mm; font-size: 11pt; } .cover dt { color: #5b6575; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 4mm; page-break-inside: auto; } tr { page-break-inside: avoid; }
  th, td { border: 1px solid #d5dae2; padding: 1.2mm 2mm; text-align: left; font-size: 8.5pt; } th { background: #eef1f5; }
  .rec { border-left: 3px solid #e0a100; padding: 1mm 3mm; margin: 2mm 0; } .rec.critical { border-color: #d33; } .rec.info { border-color: #3b82c4; }
  .rec code { font-size: 8pt; color: #555; } .chart { page-break-inside: avoid; margin: 2mm 0; }
</style></head><body>
<section class="cover">
  <h1>${esc(c.title)}</h1>
  <dl>
    <dt>Host · 主机</dt><dd>${esc(c.host)}</dd>
    <dt>Period · 时间范围</dt><dd>${esc(period)}</dd>
    <dt>Generated · 生成时间</dt><dd>${esc(c.generated_at)}</dd>
    <dt>Report</dt><dd>${esc(c.report_id)} (${esc(c.type)})</dd>
  </dl>
</section>
<h2>Host summary · 主机概览</h2>
${table(['metric', 'current', 'average', 'maximum', 'minimum', 'trend'], Object.entries(c.summary).map(([k, s]) => [k, num(s.current, s.unit), num(s.average, s.unit), num(s.maximum, s.unit), num(s.minimum, s.unit), s.trend]))}
<h2>Top plugins by CPU · CPU 占用最高的插件</h2>
${table(pluginHead, c.plugins.top_cpu.map(plugin))}
<h2>Top plugins by memory · 内存占用最高的插件</h2>
${table(pluginHead, c.plugins.top_memory.map(plugin))}
${
  c.plugins.all.some((p) => p.calls_total !== null)
    ? `<h2>Services · 服务调用</h2>
${table(['plugin', 'health', 'calls', 'failed', 'error rate', 'avg response'], c.plugins.all.filter((p) => p.calls_total !== null).map((p) => [p.plugin_id, p.health, p.calls_total, p.calls_failed, num(p.calls_error_rate === null ? null : Math.round(p.calls_error_rate * 10_000) / 100, '%'), num(p.avg_response_time, ' s')]))}`
    : ''
}
<h2>Restarts · 重启</h2>
${table(['plugin', 'status', 'restarts'], c.plugins.all.filter((p) => p.restarts > 0).map((p) => [p.plugin_id, p.status, p.restarts]))}
${
  c.alerts
    ? `<h2>Alerts · 告警</h2>
${table(['total', 'critical', 'error', 'warning', 'info'], [[c.alerts.total, c.alerts.by_level.critical ?? 0, c.alerts.by_level.error ?? 0, c.alerts.by_level.warning ?? 0, c.alerts.by_level.info ?? 0]])}
<p>Longest · 持续最久: ${c.alerts.longest ? `${esc(c.alerts.longest.title)} (${esc(c.alerts.longest.level)}, ${c.alerts.longest.seconds} s)` : '—'}<br>
Most frequent · 最频繁: ${c.alerts.most_frequent ? `${esc(c.alerts.most_frequent.title)} (${c.alerts.most_frequent.count}×)` : '—'}</p>
${table(['id', 'level', 'title', 'created', 'resolved', 'seconds'], c.alerts.list.slice(-200).map((a) => [a.id, a.level, a.title, a.created_at, a.resolved_at ?? 'active', a.seconds]))}`
    : ''
}
${
  c.recommendations
    ? `<h2>Recommendations · 建议</h2>
${c.recommendations.length ? c.recommendations.map((r) => `<div class="rec ${esc(r.severity)}"><b>${esc(r.kind)}</b> (${esc(r.severity)}, ${esc(r.subject)}): ${esc(r.finding)}<br><code>${esc(JSON.stringify(r.evidence))}</code></div>`).join('\n') : '<p>No finding.</p>'}`
    : ''
}
${charts.length ? `<h2>Time series · 时间序列</h2>\n${charts.join('\n')}` : ''}
</body></html>`;
  return { html, options, data };
}
