// The status panel: mode, AFTR in use, public IPv4 in dual-stack, detector states, counters, and the
// failover timeline (mode over time, each switch marked with its outage) drawn as SVG. It reloads
// /api/status whenever a change event touches Device.X_TWINSTACK-ORG_Failover.
import { api, el } from './api.js';

const FAILOVER = 'Device.X_TWINSTACK-ORG_Failover.';
const SVG = 'http://www.w3.org/2000/svg';
const MODE_LABEL = { DSLite: 'DS-Lite', DualStack: 'Dual-stack', None: 'None' };
const H = 120;

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const unknownTime = (t) => !t || t.startsWith('0001-');
const fmtTime = (t) => (unknownTime(t) ? '—' : new Date(t).toLocaleString());
const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10000 ? 0 : 1)} s` : `${ms} ms`);

export class StatusPanel {
  constructor(doc) {
    this.summary = doc.getElementById('status-summary');
    this.detectors = doc.querySelector('#detectors tbody');
    this.history = doc.querySelector('#history tbody');
    this.chart = doc.getElementById('timeline-chart');
    this.legend = doc.getElementById('timeline-legend');
    this.sim = doc.getElementById('sim');
    this.simState = doc.getElementById('sim-state');
    this.simError = doc.getElementById('sim-error');
    this.pending = null;
    const setSim = (state) => async () => {
      try {
        await api.setValues({ [`${FAILOVER}Simulation.AFTRState`]: state });
        this.simError.textContent = '';
      } catch (e) {
        this.simError.textContent = e.message;
      }
    };
    doc.getElementById('sim-fail').addEventListener('click', setSim('Down'));
    doc.getElementById('sim-blackhole').addEventListener('click', setSim('Blackhole'));
    doc.getElementById('sim-restore').addEventListener('click', setSim('Up'));
    // The chart is drawn in CSS pixels of its box (text stays legible on a phone): redraw on resize.
    let resize;
    window.addEventListener('resize', () => { clearTimeout(resize); resize = setTimeout(() => this.last && this.drawTimeline(this.last), 150); });
  }

  async load() {
    this.render(await api.status());
  }

  /** Coalesces a burst of change events into one reload. */
  changed(ev) {
    const touches = (p) => p.startsWith(FAILOVER);
    if (!ev.changes.some((c) => touches(c.path)) && !ev.added.some(touches) && !ev.deleted.some(touches)) return;
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.load().catch(() => {}), 50);
  }

  render(s) {
    const rows = [
      ['Mode', MODE_LABEL[s.mode] ?? s.mode, 'mode'],
      ['AFTR in use', s.currentAFTR || '—', 'aftr'],
    ];
    if (s.backupAFTRSince && !s.backupAFTRSince.startsWith('0001-')) rows.push(['On backup AFTR since', fmtTime(s.backupAFTRSince), 'backup-since']);
    if (s.mode === 'DualStack') rows.push(['Public IPv4', s.publicIPv4Address || '—', 'ipv4']);
    rows.push(['Switches', s.switchCount, 'switches'], ['Last switch', fmtTime(s.lastSwitchTime), 'last-time'], ['Last reason', s.lastSwitchReason || '—', 'last-reason']);
    if (s.forcedMode && s.forcedMode !== 'Auto') rows.push(['Forced mode', s.forcedMode, 'forced']);
    this.summary.replaceChildren(...rows.flatMap(([k, v, id]) => [el('dt', { text: k }), el('dd', { id: `st-${id}`, class: id === 'mode' ? `mode mode-${s.mode}` : '', text: v })]));

    this.sim.hidden = !s.simulation.active;
    this.simState.textContent = s.simulation.aftrState;

    this.detectors.replaceChildren(...(s.detectors.length ? s.detectors.map((d) =>
      el('tr', {}, el('th', { scope: 'row', text: d.name }), el('td', { class: `state state-${d.state}`, text: d.enable === 'false' ? 'Disabled' : d.state }), el('td', { text: d.lastReason })))
      : [el('tr', {}, el('td', { colspan: 3, text: 'No detectors.' }))]));

    this.history.replaceChildren(...[...s.history].reverse().map((h) => el('tr', {},
      el('td', { text: fmtTime(h.time) }), el('td', { text: MODE_LABEL[h.from] ?? h.from }), el('td', { text: MODE_LABEL[h.to] ?? h.to }),
      el('td', { text: h.aftr }), el('td', { text: fmtMs(h.outageMs) }), el('td', { text: h.reason }))));
    this.last = s;
    this.drawTimeline(s);
  }

  /** Mode bands between switches from the first switch to now, a red bar per switch as wide as its outage. */
  drawTimeline(s) {
    const hist = s.history.filter((h) => !unknownTime(h.time)).map((h) => ({ ...h, t: Date.parse(h.time) }));
    const now = Date.now();
    const W = Math.max(this.chart.clientWidth, 200);
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': 'tl-title tl-desc', class: 'chart' });
    const desc = hist.length
      ? `${hist.length} switch${hist.length === 1 ? '' : 'es'}; now ${MODE_LABEL[s.mode] ?? s.mode}. ` + hist.map((h) => `${fmtTime(h.time)}: ${MODE_LABEL[h.from] ?? h.from} to ${MODE_LABEL[h.to] ?? h.to}, outage ${fmtMs(h.outageMs)}`).join('; ')
      : `No switches yet; mode ${MODE_LABEL[s.mode] ?? s.mode}.`;
    chart.append(svg('title', { id: 'tl-title' }, 'Failover timeline'), svg('desc', { id: 'tl-desc' }, desc));
    const start = hist.length ? Math.min(hist[0].t, now - 60_000) : now - 3_600_000;
    const span = Math.max(now - start, 1);
    const x = (t) => 20 + ((t - start) / span) * (W - 40);
    const bandY = 30;
    const bandH = 40;
    // The mode before the first switch is that switch's "from".
    const segments = [];
    let mode = hist.length ? hist[0].from : s.mode;
    let from = start;
    for (const h of hist) { segments.push([from, h.t, mode]); from = h.t; mode = h.to; }
    segments.push([from, now, s.mode || mode]);
    for (const [a, b, m] of segments) {
      // At least 3 px, so a mode entered a moment ago is still visible at the right edge.
      const w = Math.max(x(b) - x(a), 3);
      const band = svg('rect', { x: Math.min(x(a), x(now) - w), y: bandY, width: w, height: bandH, class: `band band-${m}` });
      band.append(svg('title', {}, `${MODE_LABEL[m] ?? m} from ${fmtTime(new Date(a).toISOString())}`));
      chart.append(band);
      if (w > 70) chart.append(svg('text', { x: x(a) + 6, y: bandY + bandH / 2 + 4, class: 'band-label' }, MODE_LABEL[m] ?? m));
    }
    for (const h of hist) {
      const w = Math.max((h.outageMs / span) * (W - 40), 3);
      const mark = svg('rect', { x: x(h.t) - w, y: bandY - 8, width: w, height: bandH + 16, class: 'outage' });
      mark.append(svg('title', {}, `${fmtTime(h.time)} ${MODE_LABEL[h.from] ?? h.from} → ${MODE_LABEL[h.to] ?? h.to}, outage ${fmtMs(h.outageMs)}${h.reason ? `: ${h.reason}` : ''}`));
      chart.append(mark);
    }
    const axisY = bandY + bandH + 14;
    chart.append(svg('line', { x1: 20, x2: W - 20, y1: axisY, y2: axisY, class: 'axis' }));
    const ticks = Math.max(2, Math.min(6, Math.floor(W / 120)));
    // Ticks closer than a minute apart need seconds, or every label reads the same minute.
    const withSeconds = span / (ticks - 1) < 60_000;
    const fmtShort = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', ...(withSeconds ? { second: '2-digit' } : {}) });
    for (let i = 0; i < ticks; i++) {
      const t = start + (span * i) / (ticks - 1);
      const last = i === ticks - 1;
      chart.append(svg('line', { x1: x(t), x2: x(t), y1: axisY - 3, y2: axisY + 3, class: 'axis' }),
        svg('text', { x: x(t), y: H - 4, class: `tick${last ? ' end' : i ? ' mid' : ''}` }, last ? 'now' : fmtShort(t)));
    }
    chart.append(svg('text', { x: 20, y: 18, class: 'tick' }, `${MODE_LABEL[s.mode] ?? s.mode} now · ${s.switchCount || 0} switches`));
    this.chart.replaceChildren(chart);
    this.legend.replaceChildren(
      el('span', { class: 'key key-DSLite', text: 'DS-Lite' }), el('span', { class: 'key key-DualStack', text: 'Dual-stack' }),
      el('span', { class: 'key key-None', text: 'None' }), el('span', { class: 'key key-outage', text: 'Outage at a switch' }));
  }
}
