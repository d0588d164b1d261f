// Issue 21 acceptance, end to end in namespaces: Kea DHCPv6 with the S46 options (RFC 7598) and Kea DHCPv4 over
// DHCPv6 (RFC 7341), two strict lwAFTR fixtures behind one anycast address (test/fixtures/lwaftr: a binding per
// lwB4, ICMPv6 code 5 without one, RFC 7596 §6.2), the agent on the Linux WAN with the bundled forwarder as the
// lwB4 (NAPT44 into its port set), and both CPUs busy (stress-ng) the whole time.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { inPortSet } from '../../src/forwarder/types.ts';
import { cli, getAll } from '../failover/cli.ts';
import { FO, startLabAgent, type LabAgent } from '../failover/agent.ts';
import { cpuLoad, startFlow, type FlowResult } from '../failover/flow.ts';
import { sleep, waitFor } from '../wait.ts';
import { A, BR, createLwLab, K, type LwLab } from './lab.ts';

const LW = `${FO}LW4o6.`;
let load: { stop(): Promise<void> };
before(() => { load = cpuLoad(); });
after(async () => { await load?.stop(); });

/** Detector settings for quick tests, written through the data model. */
async function fast(a: LabAgent) {
  await cli(a.socket, { cmd: 'set', values: {
    [`${FO}Detector.2.Interval`]: '50', [`${FO}Detector.2.Timeout`]: '300',
    [`${FO}Detector.3.Interval`]: '200', [`${FO}Detector.3.Timeout`]: '200', [`${FO}Detector.3.FailureThreshold`]: '2',
    [`${FO}RecoveryInterval`]: '1', [`${FO}RecoveryThreshold`]: '2', [`${FO}HoldDownTime`]: '2',
  } });
}

async function lab(t: { after(fn: () => unknown): void }, tag: string, opts: Parameters<typeof createLwLab>[1] = {}): Promise<LwLab> {
  const l = await createLwLab(tag, opts);
  t.after(() => l.cleanup());
  return l;
}

async function agent(t: { after(fn: () => unknown): void }, l: LwLab, wan: Record<string, unknown> = {}): Promise<LabAgent> {
  const a = await startLabAgent(l.t, wan);
  t.after(() => a.stop());
  await a.waitFor(`${FO}Mode`, 'LW4o6', 20_000);
  await fast(a);
  return a;
}

/** The sources inet saw: only the binding's address, each port inside its set. */
function assertInSet(f: FlowResult, ipv4: string, psid: number) {
  const b = { ipv4, psidOffset: A, psidLength: K, psid };
  const outside = f.arrivals.filter((r) => r.src === ipv4 && !inPortSet(b, r.srcPort));
  assert.deepEqual(outside.slice(0, 3), [], 'a source port outside the port set');
}

test('S46_V4V6BIND from Kea: the binding in the data model, a 1 kHz flow NAPTed inside the port set, nothing refused by the lwAFTR', { timeout: 120_000 }, async (t) => {
  const l = await lab(t, 's');
  await l.startLwAftr('aftr1', 'strict');
  await l.prov.install('aftr1');
  const a = await agent(t, l);
  assert.equal(await a.get(`${LW}IPv4Address`), '192.0.2.3');
  assert.equal(await a.get(`${LW}SoftwireAddress`), '2001:db8:b4::c000:203:1');
  assert.equal(await a.get(`${FO}CurrentAFTR`), BR);
  assert.equal(await a.get('Device.MAP.Domain.1.Rule.1.IPv4Prefix'), '192.0.2.3/32');
  const flow = await startFlow(l.t);
  await sleep(1000);
  const r = await flow.stop();
  assert.ok(r.replies.length > 500, `replies ${r.replies.length}`);
  assertInSet(r, '192.0.2.3', 1);
  assert.deepEqual(Object.keys(r.sources()), ['192.0.2.3']);
  // TCP through the NAPT (iperf3 for one second): the lwAFTR passes it, the bytes arrive.
  const server = l.t.spawn('inet', 'iperf3', '-s', '-1', '-B', '198.51.100.2');
  await waitFor('iperf3 server', async () => (await l.t.tryExec('inet', 'sh', '-c', 'ss -ltn | grep -q :5201')) === 0, 5000);
  const iperf = JSON.parse(await l.t.exec('lan', 'iperf3', '-c', '198.51.100.2', '-t', '1', '-J')) as { end: { sum_received: { bytes: number } } };
  await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
  assert.ok(iperf.end.sum_received.bytes > 1_000_000, `TCP bytes received ${iperf.end.sum_received.bytes}`);
  const c = l.aftr.aftr1!.counters();
  assert.equal(c.port_out_of_set ?? 0, 0);
  assert.equal(c.wrong_ipv4 ?? 0, 0);
  assert.equal(c.no_binding ?? 0, 0);
});

test('1,000 flows from the LAN get 1,000 ports, all inside the set', { timeout: 120_000 }, async (t) => {
  const l = await lab(t, 'm');
  await l.startLwAftr('aftr1', 'strict');
  await l.prov.install('aftr1');
  await agent(t, l);
  // The echo at inet prints each source port it saw.
  const recv = l.t.spawn('inet', process.execPath, '-e', `
    const s = require('node:dgram').createSocket('udp4'); const seen = new Set();
    s.on('message', (m, r) => { seen.add(r.address + ':' + r.port); s.send(m, r.port, r.address); });
    s.bind(46003, () => console.log('ready'));
    process.on('SIGTERM', () => { console.log(JSON.stringify([...seen])); process.exit(0); });`);
  let out = '';
  recv.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('receiver', async () => out.includes('ready'), 10_000);
  const back = Number((await l.t.exec('lan', process.execPath, '-e', `
    const d = require('node:dgram'); let back = 0;
    for (let i = 0; i < 1000; i++) { const s = d.createSocket('udp4');
      s.on('message', () => { back++; s.close(); }); s.on('error', () => {});
      s.bind(0, () => setTimeout(() => s.send(Buffer.alloc(16), 46003, '198.51.100.2'), i)); }
    setTimeout(() => { console.log(back); process.exit(0); }, 6000);`)).trim());
  const gone = new Promise((r) => recv.once('exit', r));
  recv.kill('SIGTERM');
  await gone;
  const seen = JSON.parse(out.trim().split('\n').pop()!) as string[];
  const ports = seen.map((x) => Number(x.split(':')[1]));
  assert.ok(seen.every((x) => x.startsWith('192.0.2.3:')), 'one shared address');
  const b = { ipv4: '192.0.2.3', psidOffset: A, psidLength: K, psid: 1 };
  assert.deepEqual(ports.filter((p) => !inPortSet(b, p)), [], 'no port outside the set');
  assert.equal(new Set(ports).size, ports.length);
  assert.ok(ports.length >= 990 && back >= 990, `distinct mappings ${ports.length}, replies back ${back} of 1000`);
});

test('primary lwAFTR dies, ICMPv6 trigger: provisioned again with another binding, LAN IPv4 flows through the backup, no switch', { timeout: 120_000 }, async (t) => {
  const l = await lab(t, 't');
  await l.startLwAftr('aftr1', 'strict');
  await l.startLwAftr('aftr2', 'strict');
  await l.prov.install('aftr1');
  const a = await agent(t, l);
  const switches = await a.get(`${FO}SwitchCount`);
  l.prov.start();
  // The provisioning system's plan for the backup: another address and port set.
  await l.prov.offer({ ipv4: '192.0.2.4', psid: 2 });
  const flow = await startFlow(l.t);
  await sleep(1000);
  const died = Date.now();
  // The anycast route moves with the death (the primary's announcement goes with it), then the process dies.
  await l.moveAnycast('aftr2');
  await l.killLwAftr('aftr1');
  await a.waitFor(`${LW}IPv4Address`, '192.0.2.4', 15_000);
  await a.waitFor(`${LW}Trigger.1.Action`, 'Reprovisioned', 5000);
  await sleep(1500);
  const r = await flow.stop();
  const back = r.replies.filter((x) => x.sentAt > died).find((x) => r.arrivals.some((y) => y.seq === x.seq && y.src === '192.0.2.4'));
  assert.ok(back, 'replies through the backup on the new binding');
  t.diagnostic(`primary death to LAN IPv4 through the backup: ${back.backAt - died} ms`);
  assertInSet({ ...r, arrivals: r.arrivals.filter((x) => x.src === '192.0.2.4') } as FlowResult, '192.0.2.4', 2);
  assert.equal(await a.get(`${FO}Mode`), 'LW4o6');
  assert.equal(await a.get(`${FO}SwitchCount`), switches);
  assert.ok((l.aftr.aftr2!.counters().policy_icmp_sent ?? 0) >= 1, 'the backup answered code 5');
  assert.equal(await a.get(`${LW}Trigger.1.OldBinding`), '192.0.2.3 1/6');
  assert.equal(await a.get(`${LW}Trigger.1.NewBinding`), '192.0.2.4 2/6');
});

test('primary lwAFTR dies, the backup creates bindings from the packets: the gateway does nothing, flows resume', { timeout: 120_000 }, async (t) => {
  const l = await lab(t, 'd');
  await l.startLwAftr('aftr1', 'strict');
  await l.startLwAftr('aftr2', 'learn');
  await l.prov.install('aftr1');
  const a = await agent(t, l);
  const switches = await a.get(`${FO}SwitchCount`);
  const flow = await startFlow(l.t);
  await sleep(1000);
  const died = Date.now();
  // The anycast route moves with the death (the primary's announcement goes with it), then the process dies.
  await l.moveAnycast('aftr2');
  await l.killLwAftr('aftr1');
  await sleep(3000);
  const r = await flow.stop();
  const back = r.replies.find((x) => x.sentAt > died + 50);
  assert.ok(back, 'replies through the learning backup');
  t.diagnostic(`primary death to LAN IPv4 through the learning backup: ${back.backAt - died} ms`);
  assert.ok((l.aftr.aftr2!.counters().learned ?? 0) >= 1);
  assert.equal(await a.get(`${LW}Reprovisions`), '0');
  assert.equal(await a.get(`${LW}TriggerNumberOfEntries`), '0');
  assert.equal(await a.get(`${LW}IPv4Address`), '192.0.2.3');
  assert.equal(await a.get(`${FO}Mode`), 'LW4o6');
  assert.equal(await a.get(`${FO}SwitchCount`), switches);
});

test('DHCPv4-over-DHCPv6 from Kea: the address and port set (RFC 7618), the lwB4 address in the delegated prefix', { timeout: 120_000 }, async (t) => {
  const l = await lab(t, 'p', { dynamic: true });
  await l.startLwAftr('aftr1', 'strict');
  l.prov.start();
  // No static softwire: the agent asks for a delegated prefix, where it builds its lwB4 address.
  const a = await agent(t, l, { softwire: '' });
  assert.equal(await a.get(`${LW}Provisioning`), 'DHCP4o6');
  const ipv4 = await a.get(`${LW}IPv4Address`);
  assert.match(ipv4, /^192\.0\.2\.(1\d|20)$/);
  assert.equal(await a.get(`${LW}PSID`), '1');
  assert.match(await a.get(`${LW}SoftwireAddress`), /^2001:db8:100:/);
  const flow = await startFlow(l.t);
  await sleep(1500);
  const r = await flow.stop();
  assert.ok(r.replies.length > 500, `replies ${r.replies.length}`);
  assertInSet(r, ipv4, 1);
});

test('no lwAFTR answers at all: dual-stack (History from LW4o6), and back to lw4o6 when it returns', { timeout: 120_000 }, async (t) => {
  const l = await lab(t, 'f');
  await l.startLwAftr('aftr1', 'strict');
  await l.prov.install('aftr1');
  const a = await agent(t, l);
  await l.killLwAftr('aftr1');
  await a.waitFor(`${FO}Mode`, 'DualStack', 15_000);
  const n = await a.get(`${FO}HistoryNumberOfEntries`);
  const rows = Object.entries(await getAll(a.socket, `${FO}History.`));
  const from = rows.filter(([p]) => p.endsWith('.From')).map(([, v]) => v).pop();
  assert.equal(from, 'LW4o6', `History (${n} rows)`);
  assert.match(await a.get(`${FO}PublicIPv4Address`), /^203\.0\.113\./);
  assert.equal(await a.get(`${LW}Reprovisions`), '0', 'a dead lwAFTR is not a binding matter');
  await l.startLwAftr('aftr1', 'strict');
  await l.prov.install('aftr1');
  await a.waitFor(`${FO}Mode`, 'LW4o6', 20_000);
});
