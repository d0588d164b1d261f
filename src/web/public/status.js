// The status panel: mode, AFTR in use, public IPv4 in dual-stack, detector states, counters, and the
// failover timeline (mode over time, each switch marked with its outage) drawn as SVG. It reloads
// /api/status whenever a change event touches Device.X_TWINSTACK-ORG_Failover. Away from DS-Lite on the
// primary it says what the return waits for (probes, HoldDownTime), counting down each second.
import { address, api, el, plural } from './api.js';

const FAILOVER = 'Device.X_TWINSTACK-ORG_Failover.';
const SVG = 'http://www.w3.org/2000/svg';
const MODE_LABEL = { DSLite: 'DS-Lite', LW4o6: 'lw4o6', DualStack: 'Dual-stack', None: 'None', NAT46: 'NAT46', Teredo: 'Teredo' };
/** Both softwire modes: IPv4 in an IPv6 tunnel (RFC 6333, RFC 7596). */
const softwire = (mode) => mode === 'DSLite' || mode === 'LW4o6';
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
    this.detectorNote = doc.getElementById('detectors-note');
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
    setInterval(() => this.tick(), 1000);
  }

  /** The countdown of a pending return, kept current without a reload. */
  tick() {
    const dd = document.getElementById('st-return');
    if (dd && this.last) dd.textContent = returnText(this.last, Date.now()).text;
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
    // lw4o6: the shared address and the ports of the set are what a support call asks about.
    if (s.lw4o6 && s.lw4o6.status !== 'Disabled' && s.lw4o6.status) {
      rows.push(['lw4o6 binding', s.lw4o6.ipv4Address ? `${s.lw4o6.ipv4Address}, ${plural(Number(s.lw4o6.portCount) || 0, 'port', 'ports')} (${s.lw4o6.portRanges.split(',').slice(0, 3).join(', ')}${s.lw4o6.portRanges.split(',').length > 3 ? ', …' : ''})` : s.lw4o6.status, 'lw4o6']);
      const last = s.lw4o6.triggers[s.lw4o6.triggers.length - 1];
      if (last) rows.push(['Last lw4o6 trigger', `${fmtTime(last.time)}: ${last.action}${last.newBinding && last.newBinding !== last.oldBinding ? ` (${last.oldBinding} → ${last.newBinding})` : ''}`, 'lw4o6-trigger']);
    }
    const ret = returnText(s, Date.now());
    if (ret.label) rows.push([ret.label, ret.text, 'return']);
    rows.push(['Switches', s.switchCount, 'switches'], ['Last switch', fmtTime(s.lastSwitchTime), 'last-time'], ['Last reason', s.lastSwitchReason || '—', 'last-reason']);
    if (s.forcedMode && s.forcedMode !== 'Auto') rows.push(['Forced mode', s.forcedMode, 'forced']);
    const value = (id, v) => (id === 'aftr' || id === 'ipv4') && v !== '—' ? el('dd', { id: `st-${id}` }, address(v)[0])
      : el('dd', { id: `st-${id}`, class: id === 'mode' ? `mode mode-${s.mode}` : '', text: v });
    this.summary.replaceChildren(...rows.flatMap(([k, v, id]) => [el('dt', { text: k }), value(id, v)]));
    this.detectorNote.hidden = s.mode !== 'DualStack';

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
      ? `${plural(hist.length, 'switch', 'switches')}; now ${MODE_LABEL[s.mode] ?? s.mode}. ` + hist.map((h) => `${fmtTime(h.time)}: ${MODE_LABEL[h.from] ?? h.from} to ${MODE_LABEL[h.to] ?? h.to}, outage ${fmtMs(h.outageMs)}`).join('; ')
      : `No switches yet; mode ${MODE_LABEL[s.mode] ?? s.mode}.`;
    chart.append(svg('title', { id: 'tl-title' }, 'Failover timeline'), svg('desc', { id: 'tl-desc' }, desc));
    const start = hist.length ? Math.min(hist[0].t, now - 60_000) : now - 3_600_000;
    // Nothing is painted before the agent existed: its start (UpTime) or, unknown, its first recorded switch.
    const agentStart = s.upTime > 0 ? now - s.upTime * 1000 : undefined;
    const knownFrom = Math.max(start, Math.min(agentStart ?? Infinity, hist.length ? hist[0].t : agentStart ?? now));
    const span = Math.max(now - start, 1);
    const x = (t) => 20 + ((t - start) / span) * (W - 40);
    const bandY = 30;
    const bandH = 40;
    // The mode before the first switch is that switch's "from".
    const segments = [];
    let mode = hist.length ? hist[0].from : s.mode;
    let from = knownFrom;
    for (const h of hist) { if (h.t > from) segments.push([from, h.t, mode]); from = Math.max(from, h.t); mode = h.to; }
    segments.push([from, now, s.mode || mode]);
    for (const [a, b, m] of segments) {
      // At least 3 px, so a mode entered a moment ago is still visible at the right edge.
      const w = Math.max(x(b) - x(a), 3);
      const band = svg('rect', { x: Math.min(x(a), x(now) - w), y: bandY, width: w, height: bandH, class: `band band-${m}` });
      band.append(svg('title', {}, `${MODE_LABEL[m] ?? m} from ${fmtTime(new Date(a).toISOString())}`));
      chart.append(band);
      if (w > 70) chart.append(svg('text', { x: x(a) + 6, y: bandY + bandH / 2 + 4, class: `band-label on-${m}` }, MODE_LABEL[m] ?? m));
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
    chart.append(svg('text', { x: 20, y: 18, class: 'tick' }, `${MODE_LABEL[s.mode] ?? s.mode} now · ${plural(s.switchCount || 0, 'switch', 'switches')}`));
    this.chart.replaceChildren(chart);
    this.legend.replaceChildren(
      el('span', { class: 'key key-DSLite', text: 'DS-Lite' }), el('span', { class: 'key key-LW4o6', text: 'lw4o6' }), el('span', { class: 'key key-DualStack', text: 'Dual-stack' }),
      el('span', { class: 'key key-NAT46', text: 'NAT46' }), el('span', { class: 'key key-Teredo', text: 'Teredo' }), el('span', { class: 'key key-None', text: 'None' }), el('span', { class: 'key key-outage', text: 'Outage at a switch' }));
  }
}

/**
 * What the return from dual-stack (or from a backup AFTR to the primary) waits for, in words. With the
 * policy's live state in the data model: probing (good probes so far), held down (after flapping, the
 * HoldDownTime multiplied), returning. Without it, what the settings promise: probes every RecoveryInterval,
 * RecoveryThreshold good ones in a row, and not before HoldDownTime after the last switch.
 */
export function returnText(s, now) {
  const onBackup = softwire(s.mode) && !unknownTime(s.backupAFTRSince);
  if (s.mode !== 'DualStack' && !onBackup) return { label: '', text: '' };
  const lw = s.lw4o6 && s.lw4o6.status && s.lw4o6.status !== 'Disabled';
  const label = onBackup ? 'Return to primary AFTR' : lw ? 'Return to lw4o6' : 'Return to DS-Lite';
  const r = s.recovery;
  const every = `every ${r.interval} s`;
  const inSeconds = (t) => Math.max(0, Math.ceil((t - now) / 1000));
  const notBefore = !unknownTime(r.returnNotBefore) ? Date.parse(r.returnNotBefore)
    : unknownTime(s.lastSwitchTime) ? NaN : Date.parse(s.lastSwitchTime) + Number(r.holdDownTime) * 1000;
  const flapped = Number(r.holdDownFactor) > 1 ? `held down after flapping (${r.holdDownFactor}× HoldDownTime), ` : '';
  switch (r.state) {
    case 'Probing': return { label, text: `probing ${every}: ${r.goodProbes} of ${r.threshold} good probes` };
    case 'HoldDown': return { label, text: `AFTR answers; ${flapped}returning in ${inSeconds(notBefore)} s (at ${fmtClock(notBefore)})` };
    case 'Returning': return { label, text: 'returning now' };
    // Not reported yet (or stale: Idle means nothing to return to, which dual-stack or a backup is not).
    case 'Idle':
    case '': break;
    default: return { label, text: r.state };
  }
  const probes = `after ${plural(r.threshold, 'good probe')} in a row (${every})`;
  if (Number.isNaN(notBefore) || notBefore <= now) return { label, text: `pending: ${probes}` };
  return { label, text: `pending: ${probes}, at the earliest ${fmtClock(notBefore)} (in ${inSeconds(notBefore)} s: ${flapped || `HoldDownTime ${r.holdDownTime} s `}after the last switch)` };
}

const fmtClock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
