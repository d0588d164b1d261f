// Shared fixture of the SNMP tests: an in-memory data model populated the way the failover handler does at
// boot (LAN, WAN, the DS-Lite softwire, the default route), an agent on a free loopback port, and helpers
// that run Debian's Net-SNMP tools against it.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DataModel } from '../../src/datamodel/index.ts';
import { SnmpService, type SnmpConfig } from '../../src/snmp/index.ts';

const run = promisify(execFile);
// The standard MIB modules from ../shared/specs (beside the checkout, wherever it is) and ours.
export const MIBDIRS = `${join(import.meta.dirname, '../../../shared/specs/mibs')}:${join(import.meta.dirname, '../../mibs')}`;
export const FO = 'Device.X_TWINSTACK-ORG_Failover.';
export const V3 = ['-v3', '-l', 'authPriv', '-u', 'nocuser', '-a', 'SHA', '-A', 'authpass123', '-x', 'AES', '-X', 'privpass123'];
export const V3_SHA256 = ['-v3', '-l', 'authPriv', '-u', 'noc256', '-a', 'SHA-256', '-A', 'authpass256', '-x', 'AES', '-X', 'privpass256'];

export const CONFIG: SnmpConfig = {
  address: '127.0.0.1', port: 0, cacheMs: 0,
  communities: [{ name: 'public', access: 'ro' }, { name: 'private', access: 'rw' }],
  users: [
    { name: 'nocuser', authProtocol: 'sha', authPassword: 'authpass123', privProtocol: 'aes', privPassword: 'privpass123', access: 'rw' },
    { name: 'noc256', authProtocol: 'sha256', authPassword: 'authpass256', privProtocol: 'aes', privPassword: 'privpass256', access: 'ro' },
  ],
};

/** Creates what the failover handler creates at boot; returns the instance numbers. */
export function populate(dm: DataModel) {
  const lan = dm.add('Device.IP.Interface.', 'system', { Name: 'lan0', Enable: 'true', Status: 'Up', Type: 'Normal', MaxMTUSize: '1500' }).instance;
  const wan = dm.add('Device.IP.Interface.', 'system', { Name: 'wan0', Enable: 'true', Status: 'Up', Type: 'Normal', MaxMTUSize: '1500' }).instance;
  dm.add(`Device.IP.Interface.${wan}.IPv6Address.`, 'system', { Enable: 'true', IPAddress: '2001:db8:1::2', Status: 'Enabled' });
  const tun = dm.add('Device.IP.Interface.', 'system', { Name: 'dslite0', Enable: 'true', Status: 'Up', Type: 'Tunnel', MaxMTUSize: '1460', LowerLayers: `Device.IP.Interface.${wan}` }).instance;
  dm.set({ [`Device.IP.Interface.${tun}.Stats.BytesSent`]: '6000000000', [`Device.IP.Interface.${tun}.Stats.BytesReceived`]: '18446744073709551615' }, 'system');
  const sw = dm.add('Device.DSLite.InterfaceSetting.', 'system', {
    Enable: 'true', Status: 'Enabled', EndpointAddressInUse: '2001:db8:ff::1', TunnelInterface: `Device.IP.Interface.${tun}`,
  }).instance;
  const router = dm.add('Device.Routing.Router.', 'system', { Enable: 'true' }).instance;
  const route = dm.add(`Device.Routing.Router.${router}.IPv4Forwarding.`, 'system', {
    Enable: 'true', Status: 'Enabled', DestIPAddress: '0.0.0.0', DestSubnetMask: '0.0.0.0', Interface: `Device.IP.Interface.${tun}`, Origin: 'Static',
  }).instance;
  dm.set({ [`${FO}Mode`]: 'DSLite', [`${FO}CurrentAFTR`]: '2001:db8:ff::1' }, 'system');
  const det = dm.add(`${FO}Detector.`, 'system', { Name: 'Silence', State: 'Healthy' }).instance;
  return { lan, wan, tun, sw, router, route, det, routePath: `Device.Routing.Router.${router}.IPv4Forwarding.${route}.` };
}

/** What the failover handler does on a switch to dual-stack. */
export function switchToDualStack(dm: DataModel, f: ReturnType<typeof populate>) {
  dm.set({
    [`Device.IP.Interface.${f.tun}.Status`]: 'Down',
    [`${f.routePath}Interface`]: `Device.IP.Interface.${f.wan}`, [`${f.routePath}GatewayIPAddress`]: '198.51.100.1',
    [`${FO}Mode`]: 'DualStack', [`${FO}SwitchCount`]: '1', [`${FO}LastSwitchReason`]: 'Silence: no packet from 2001:db8:ff::1 for 3000 ms',
    [`${FO}CurrentAFTR`]: '', [`${FO}PublicIPv4Address`]: '198.51.100.7',
  }, 'system');
}

export async function startAgent(config: SnmpConfig = CONFIG, dm = new DataModel({ file: ':memory:' })) {
  const f = populate(dm);
  const svc = new SnmpService(dm, config);
  const { port } = await svc.start();
  return { dm, svc, port, f, target: `127.0.0.1:${port}` };
}

/** Runs a Net-SNMP tool; returns stdout (numeric OIDs), or throws with stderr. */
export async function tool(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run(cmd, ['-On', '-m', '', '-r', '1', '-t', '2', ...args], { env: { ...process.env, MIBS: '', SNMPCONFPATH: '/nonexistent' } });
  return stdout;
}

/** Like tool() but returns the exit code and both streams (for expected failures). */
export async function toolResult(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, ['-On', '-m', '', '-r', '1', '-t', '1', ...args], { env: { ...process.env, MIBS: '', SNMPCONFPATH: '/nonexistent' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

/** A UDP port on loopback that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** snmptrapd on a free loopback port logging v2c traps numerically; `text()` is what it received so far. */
export async function startTrapd(): Promise<{ port: number; text(): string; stop(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { until } = await import('../wait.ts');
  const dir = mkdtempSync(join(tmpdir(), `snmptrapd-${process.pid}-`));
  const log = join(dir, 'trap.log');
  const port = await freePort();
  writeFileSync(join(dir, 'snmptrapd.conf'), 'authCommunity log public\n');
  writeFileSync(log, '');
  const trapd = spawn('snmptrapd', ['-f', '-C', '-c', join(dir, 'snmptrapd.conf'), '-m', '', '-Lf', log, '-On', `udp:127.0.0.1:${port}`],
    { env: { ...process.env, SNMP_PERSISTENT_DIR: join(dir, 'persist') }, stdio: 'ignore' });
  const text = () => readFileSync(log, 'utf8');
  await until(() => text().includes('NET-SNMP version'), 5000, 'snmptrapd started');
  return {
    port, text,
    stop: async () => {
      if (trapd.exitCode === null && trapd.signalCode === null) {
        const gone = new Promise((r) => trapd.once('exit', r));
        trapd.kill();
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
