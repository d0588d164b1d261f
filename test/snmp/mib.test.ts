// The enterprise MIB module: smilint at level 4 prints nothing (smilint exits 0 even on errors, PEERS §14),
// snmptranslate resolves our names, every object the agent serves has a definition in a MIB module, and the
// lw4o6, NAT46 and Teredo objects read (and written) with the MIB through the Net-SNMP tools show the data model's
// values.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONFIG, FO as FO_PATH, MIBDIRS, startAgent, startTrapd, tool, toolResult } from './fixture.ts';
import { until } from '../wait.ts';

const run = promisify(execFile);
const MODULES = 'TWINSTACK-FAILOVER-MIB:SNMPv2-MIB:IF-MIB:TUNNEL-MIB:IP-FORWARD-MIB:SNMP-FRAMEWORK-MIB';

test('smilint -s -l 4 on TWINSTACK-FAILOVER-MIB prints nothing', async () => {
  const { stdout, stderr } = await run('smilint', ['-s', '-l', '4', 'mibs/TWINSTACK-FAILOVER-MIB.txt'], { env: { ...process.env, SMIPATH: MIBDIRS } });
  assert.equal(stdout + stderr, '');
});

// Level 6 adds what -s and level 4 hide: a descriptor over 32 characters (RFC 2578 §3.1), a name that differs
// from another only in case, a node defined implicitly ({ enterprises 32473 6333 }).
test('smilint -l 6 on TWINSTACK-FAILOVER-MIB prints nothing', async () => {
  const { stdout, stderr } = await run('smilint', ['-l', '6', 'mibs/TWINSTACK-FAILOVER-MIB.txt'], { env: { ...process.env, SMIPATH: MIBDIRS } });
  assert.equal(stdout + stderr, '');
});

const names: [string, string][] = [
  ['TWINSTACK-FAILOVER-MIB::tsFailoverDetectorFailThreshold', '.1.3.6.1.4.1.32473.6333.2.1.1.6'],
  ['TWINSTACK-FAILOVER-MIB::tsFailoverMode', '.1.3.6.1.4.1.32473.6333.1.2'],
  ['TWINSTACK-FAILOVER-MIB::tsFailoverSwitchCount', '.1.3.6.1.4.1.32473.6333.1.12'],
  ['TWINSTACK-FAILOVER-MIB::tsFailoverLastSwitchReason', '.1.3.6.1.4.1.32473.6333.1.14'],
  ['TWINSTACK-FAILOVER-MIB::tsFailoverBackupAftrSince', '.1.3.6.1.4.1.32473.6333.1.15'],
  ['TWINSTACK-FAILOVER-MIB::tsFailoverDetectorState', '.1.3.6.1.4.1.32473.6333.2.1.1.7'],
  ['TWINSTACK-FAILOVER-MIB::tsFailoverHistoryTo', '.1.3.6.1.4.1.32473.6333.2.2.1.4'],
  ['TWINSTACK-FAILOVER-MIB::tsFailoverModeChange', '.1.3.6.1.4.1.32473.6333.0.1'],
  ['TWINSTACK-FAILOVER-MIB::twinstackGateway', '.1.3.6.1.4.1.32473.6333.4.1'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46GatewayId', '.1.3.6.1.4.1.32473.6333.1.17.7'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46HandOffsReceived', '.1.3.6.1.4.1.32473.6333.1.17.15'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46PeerAddress', '.1.3.6.1.4.1.32473.6333.2.4.1.5'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46AdoptedClients', '.1.3.6.1.4.1.32473.6333.2.5.1.5'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46PeerProbeInterval', '.1.3.6.1.4.1.32473.6333.1.17.17'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46PeerFailThreshold', '.1.3.6.1.4.1.32473.6333.1.17.18'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46PeerRecoveryThreshold', '.1.3.6.1.4.1.32473.6333.1.17.19'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46PeerStatus', '.1.3.6.1.4.1.32473.6333.2.4.1.6'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46AdoptedActivation', '.1.3.6.1.4.1.32473.6333.2.5.1.6'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46AdoptedStatus', '.1.3.6.1.4.1.32473.6333.2.5.1.7'],
  ['TWINSTACK-FAILOVER-MIB::tsNat46AdoptedExportedRoute', '.1.3.6.1.4.1.32473.6333.2.5.1.8'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredo', '.1.3.6.1.4.1.32473.6333.1.18'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoEnable', '.1.3.6.1.4.1.32473.6333.1.18.1'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoSecondaryServerAddress', '.1.3.6.1.4.1.32473.6333.1.18.4'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoRefreshInterval', '.1.3.6.1.4.1.32473.6333.1.18.5'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoAddress', '.1.3.6.1.4.1.32473.6333.1.18.7'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoQualificationTime', '.1.3.6.1.4.1.32473.6333.1.18.11'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoPeerNumberOfEntries', '.1.3.6.1.4.1.32473.6333.1.18.14'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoQualifications', '.1.3.6.1.4.1.32473.6333.1.18.19'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoDropped', '.1.3.6.1.4.1.32473.6333.1.18.22'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoPeerTable', '.1.3.6.1.4.1.32473.6333.2.6'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoPeerAddress', '.1.3.6.1.4.1.32473.6333.2.6.1.2'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoPeerPacketsReceived', '.1.3.6.1.4.1.32473.6333.2.6.1.7'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoPeerDropped', '.1.3.6.1.4.1.32473.6333.2.6.1.8'],
  ['TWINSTACK-FAILOVER-MIB::twinstackTeredoCompliance', '.1.3.6.1.4.1.32473.6333.3.1.4'],
  ['TWINSTACK-FAILOVER-MIB::tsTeredoGroup', '.1.3.6.1.4.1.32473.6333.3.2.5'],
];
for (const [name, oid] of names) {
  test(`snmptranslate ${name} -> ${oid}`, async () => {
    const { stdout } = await run('snmptranslate', ['-M', MIBDIRS, '-m', 'TWINSTACK-FAILOVER-MIB', '-On', name]);
    assert.equal(stdout.trim(), oid);
  });
}

test('every object the agent serves is defined in a MIB module (snmptranslate of each walked OID)', async () => {
  const a = await startAgent();
  try {
    const oids = (await tool('snmpwalk', ['-v2c', '-c', 'public', a.target, '1.3'])).split('\n').filter((l) => l.startsWith('.')).map((l) => l.split(' ')[0])
      // usmStats (SNMP-USER-BASED-SM-MIB) is not among the shared MIB texts.
      .filter((o) => !o.startsWith('.1.3.6.1.6.3.15.'));
    assert.ok(oids.length > 150);
    const { stdout } = await run('snmptranslate', ['-M', MIBDIRS, '-m', MODULES, '-OS', ...oids], { maxBuffer: 1 << 24 });
    const lines = stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, oids.length);
    // An OID no module defines prints as a numeric tail under SNMPv2-SMI (e.g. "SNMPv2-SMI::enterprises.32473.9.0").
    const unresolved = lines.filter((l) => /^(\.?\d+\.)+\d+$|^SNMPv2-SMI::/.test(l));
    assert.deepEqual(unresolved, []);
    assert.ok(lines.includes('TWINSTACK-FAILOVER-MIB::tsFailoverMode.0'));
    assert.ok(lines.includes('TWINSTACK-FAILOVER-MIB::tsFailoverBackupAftrSince.0'), 'the stay on a backup AFTR, for the NOC');
    assert.ok(lines.includes('TWINSTACK-FAILOVER-MIB::tsNat46ExportedRoute.0'), 'issue 23: the route the gateway announces');
    assert.ok(lines.includes('TWINSTACK-FAILOVER-MIB::tsTeredoAddress.0'), 'issue 22: the Teredo address');
    assert.ok(lines.some((l) => l.startsWith('TUNNEL-MIB::tunnelIfEncapsMethod.')));
    assert.ok(lines.some((l) => l.startsWith('IP-FORWARD-MIB::inetCidrRouteIfIndex.')));
  } finally {
    await a.svc.stop();
    a.dm.close();
  }
});

test('lw4o6: the binding and the triggers as snmpwalk with the MIB shows them (tsLw4o6, tsLw4o6TriggerTable)', async () => {
  const a = await startAgent();
  try {
    const LW = `${FO_PATH}LW4o6.`;
    a.dm.set({
      [`${FO_PATH}Mode`]: 'LW4o6', [`${LW}Status`]: 'Bound', [`${LW}Provisioning`]: 'S46Bind', [`${LW}BRAddress`]: '2001:db8:ffff::1',
      [`${LW}SoftwireAddress`]: '2001:db8:1:cafe:0:c000:203:1', [`${LW}IPv4Address`]: '192.0.2.3', [`${LW}PSIDOffset`]: '6',
      [`${LW}PSIDLength`]: '6', [`${LW}PSID`]: '1', [`${LW}PortCount`]: '1008', [`${LW}PolicyErrors`]: '2', [`${LW}Reprovisions`]: '1',
      [`${LW}LastTriggerTime`]: '2026-12-06T05:00:00Z',
    }, 'system');
    a.dm.add(`${LW}Trigger.`, 'system', { Time: '2026-12-06T05:00:00Z', Source: '2001:db8:ffff::1', Action: 'Reprovisioned', OldBinding: '192.0.2.3 1/6', NewBinding: '192.0.2.4 2/6', DurationMs: '42' });
    const { stdout } = await run('snmpwalk', ['-M', MIBDIRS, '-m', MODULES, '-v2c', '-c', 'public', '-Os', a.target, 'TWINSTACK-FAILOVER-MIB::tsLw4o6'], { env: { ...process.env, SNMPCONFPATH: '/nonexistent' } });
    assert.deepEqual(stdout.trim().split('\n'), [
      'tsLw4o6Status.0 = INTEGER: bound(4)',
      'tsLw4o6Provisioning.0 = INTEGER: s46Bind(2)',
      'tsLw4o6BrAddress.0 = STRING: 2001:db8:ffff:0:0:0:0:1',
      'tsLw4o6SoftwireAddress.0 = STRING: 2001:db8:1:cafe:0:c000:203:1',
      'tsLw4o6IPv4Address.0 = IpAddress: 192.0.2.3',
      'tsLw4o6PsidOffset.0 = Gauge32: 6',
      'tsLw4o6PsidLength.0 = Gauge32: 6',
      'tsLw4o6Psid.0 = Gauge32: 1',
      'tsLw4o6PortCount.0 = Gauge32: 1008',
      'tsLw4o6PolicyErrors.0 = Counter32: 2',
      'tsLw4o6Reprovisions.0 = Counter32: 1',
      'tsLw4o6LastTriggerTime.0 = STRING: 2026-12-6,5:0:0.0,+0:0',
    ]);
    const mode = await run('snmpget', ['-M', MIBDIRS, '-m', MODULES, '-v2c', '-c', 'public', '-Os', a.target, 'TWINSTACK-FAILOVER-MIB::tsFailoverMode.0'], { env: { ...process.env, SNMPCONFPATH: '/nonexistent' } });
    assert.equal(mode.stdout.trim(), 'tsFailoverMode.0 = INTEGER: lw4o6(4)');
    const table = await run('snmpwalk', ['-M', MIBDIRS, '-m', MODULES, '-v2c', '-c', 'public', '-Os', a.target, 'TWINSTACK-FAILOVER-MIB::tsLw4o6TriggerTable'], { env: { ...process.env, SNMPCONFPATH: '/nonexistent' } });
    assert.deepEqual(table.stdout.trim().split('\n'), [
      'tsLw4o6TriggerTime.1 = STRING: 2026-12-6,5:0:0.0,+0:0',
      'tsLw4o6TriggerSource.1 = STRING: 2001:db8:ffff:0:0:0:0:1',
      'tsLw4o6TriggerAction.1 = INTEGER: reprovisioned(1)',
      'tsLw4o6TriggerOldBinding.1 = STRING: 192.0.2.3 1/6',
      'tsLw4o6TriggerNewBinding.1 = STRING: 192.0.2.4 2/6',
      'tsLw4o6TriggerDurationMs.1 = Gauge32: 42 milliseconds',
    ]);
  } finally {
    await a.svc.stop();
    a.dm.close();
  }
});

/** A Net-SNMP tool with our MIB loaded, output with short names (-Os); returns stdout. */
async function withMib(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run(cmd, ['-M', MIBDIRS, '-m', MODULES, '-Os', ...args], { env: { ...process.env, SNMPCONFPATH: '/nonexistent' } });
  return stdout;
}

// Issue 23, automatic adoption: the probe settings, the peers' liveness and the adoptions' activation as the NOC
// reads and writes them. Peer.Status and Adopted.* are written here as the liveness handler would (system origin).
test('NAT46 liveness: probe settings, peer status and adoption read with the MIB; the writable ones set (Net-SNMP tools)', async () => {
  const a = await startAgent();
  try {
    const N = 'Device.X_TWINSTACK-ORG_NAT46.';
    const peer = a.dm.add(`${N}Peer.`, 'system', { Enable: 'true', GatewayID: '259', Address: '2001:db8:ff00::2' }).instance;
    const adopted = a.dm.add(`${N}Adopted.`, 'system', { Enable: 'true', GatewayID: '259', Clients: '192.0.2.128/25', Activation: 'PeerDown' }).instance;
    a.dm.set({
      [`${N}Peer.${peer}.Status`]: 'Down', [`${N}Adopted.${adopted}.Status`]: 'Active',
      [`${N}Adopted.${adopted}.ExportedRoute`]: '2001:db8:462a:103::/64',
    }, 'system');
    const names = ['tsNat46PeerProbeInterval.0', 'tsNat46PeerFailThreshold.0', 'tsNat46PeerRecoveryThreshold.0',
      `tsNat46PeerStatus.${peer}`, `tsNat46AdoptedActivation.${adopted}`, `tsNat46AdoptedStatus.${adopted}`, `tsNat46AdoptedExportedRoute.${adopted}`];
    assert.deepEqual((await withMib('snmpget', ['-v2c', '-c', 'public', a.target, ...names])).trim().split('\n'), [
      'tsNat46PeerProbeInterval.0 = Gauge32: 1000 milliseconds',
      'tsNat46PeerFailThreshold.0 = Gauge32: 3',
      'tsNat46PeerRecoveryThreshold.0 = Gauge32: 5',
      `tsNat46PeerStatus.${peer} = INTEGER: down(4)`,
      `tsNat46AdoptedActivation.${adopted} = INTEGER: peerDown(2)`,
      `tsNat46AdoptedStatus.${adopted} = INTEGER: active(3)`,
      `tsNat46AdoptedExportedRoute.${adopted} = STRING: 2001:db8:462a:103::/64`,
    ]);

    await withMib('snmpset', ['-v2c', '-c', 'private', a.target, 'tsNat46PeerProbeInterval.0', 'u', '250', 'tsNat46PeerFailThreshold.0', 'u', '4',
      'tsNat46PeerRecoveryThreshold.0', 'u', '7', `tsNat46AdoptedActivation.${adopted}`, 'i', 'always']);
    assert.deepEqual([`${N}PeerProbeInterval`, `${N}PeerFailureThreshold`, `${N}PeerRecoveryThreshold`, `${N}Adopted.${adopted}.Activation`]
      .map((p) => a.dm.getValue(p)), ['250', '4', '7', 'Always']);
    assert.match(await withMib('snmpget', ['-v2c', '-c', 'public', a.target, `tsNat46AdoptedActivation.${adopted}`]), /INTEGER: always\(1\)/);

    // Numeric OIDs, no MIB: the agent's own checks, not snmpset's.
    const refused: [string, string[], RegExp][] = [
      ['interval below 100 ms', ['.1.3.6.1.4.1.32473.6333.1.17.17.0', 'u', '99'], /wrongValue/],
      ['threshold above 100', ['.1.3.6.1.4.1.32473.6333.1.17.18.0', 'u', '101'], /wrongValue/],
      ['activation outside the enumeration', [`.1.3.6.1.4.1.32473.6333.2.5.1.6.${adopted}`, 'i', '3'], /wrongValue/],
      ['peer status is read-only', [`.1.3.6.1.4.1.32473.6333.2.4.1.6.${peer}`, 'i', '3'], /notWritable/],
      ['adoption status is read-only', [`.1.3.6.1.4.1.32473.6333.2.5.1.7.${adopted}`, 'i', '2'], /notWritable/],
    ];
    for (const [what, args, error] of refused) assert.match((await toolResult('snmpset', ['-v2c', '-c', 'private', a.target, ...args])).stderr, error, what);
    assert.equal(a.dm.getValue(`${N}PeerProbeInterval`), '250', 'nothing refused was written');
  } finally {
    await a.svc.stop();
    a.dm.close();
  }
});

test('nat46(5) of TsIPv4ServiceMode: tsFailoverMode, the history and tsFailoverModeChange', async () => {
  const trapd = await startTrapd();
  const a = await startAgent({ ...CONFIG, trapTargets: [{ host: '127.0.0.1', port: trapd.port, version: 'v2c', community: 'public' }] });
  try {
    a.dm.set({ [`${FO_PATH}Mode`]: 'NAT46', [`${FO_PATH}SwitchCount`]: '1' }, 'system');
    const h = a.dm.add(`${FO_PATH}History.`, 'system', { Time: '2026-12-06T23:00:00Z', From: 'DSLite', To: 'NAT46', Reason: 'NAT46 enabled' }).instance;
    assert.deepEqual((await withMib('snmpget', ['-v2c', '-c', 'public', a.target, 'tsFailoverMode.0', `tsFailoverHistoryFrom.${h}`, `tsFailoverHistoryTo.${h}`]))
      .trim().split('\n'), ['tsFailoverMode.0 = INTEGER: nat46(5)', `tsFailoverHistoryFrom.${h} = INTEGER: dsLite(1)`, `tsFailoverHistoryTo.${h} = INTEGER: nat46(5)`]);
    // The notification's first object is tsFailoverMode.0 with its new value.
    await until(() => trapd.text().includes('.1.3.6.1.4.1.32473.6333.1.2.0 = INTEGER: 5'), 3000, 'tsFailoverModeChange with nat46(5)');
  } finally {
    await a.svc.stop();
    a.dm.close();
    await trapd.stop();
  }
});

// Issue 22: Device.X_TWINSTACK-ORG_Teredo. as the NOC reads and writes it. The state, counters and peers are written
// here as the Teredo handler would (system origin). The Teredo address is the one RFC 4380 §4 gives for server
// 192.0.2.10, flags 0, mapping 198.51.100.7:40000 (port and address obfuscated: 63bf, 39cc:9bf8).
test('Teredo: tsTeredo and tsTeredoPeerTable read with the MIB; the writable ones set, bad and read-only refused (Net-SNMP tools)', async () => {
  const a = await startAgent();
  try {
    const T = 'Device.X_TWINSTACK-ORG_Teredo.';
    a.dm.set({
      [`${T}Enable`]: 'true', [`${T}ServerAddress`]: '192.0.2.10', [`${T}SecondaryServerAddress`]: '192.0.2.11', [`${T}RefreshInterval`]: '60',
      [`${T}LANPrefix`]: 'fd00:db8:1::/64', [`${T}Status`]: 'Qualified', [`${T}TeredoAddress`]: '2001:0:c000:20a:0:63bf:39cc:9bf8', [`${T}MappedAddress`]: '198.51.100.7',
      [`${T}MappedPort`]: '40000', [`${T}NATType`]: 'Restricted', [`${T}QualificationTime`]: '2026-12-06T23:03:00Z',
      [`${T}RelayInUse`]: '192.0.2.77:3544', [`${T}LastError`]: 'no answer from 192.0.2.10 (before qualifying)',
      [`${T}Stats.PacketsSent`]: '5000000000', [`${T}Stats.PacketsReceived`]: '42', [`${T}Stats.BytesSent`]: '18446744073709551615',
      [`${T}Stats.BytesReceived`]: '1234', [`${T}Stats.Qualifications`]: '3', [`${T}Stats.AddressChanges`]: '1',
      [`${T}Stats.ServerPackets`]: '17', [`${T}Stats.Dropped`]: '2',
    }, 'system');
    const native = a.dm.add(`${T}Peer.`, 'system', {
      Address: '2001:db8::1', Type: 'Native', Trusted: 'true', Via: '192.0.2.77:3544', PacketsSent: '10', PacketsReceived: '9', Dropped: '1',
    }).instance;
    const peer2 = a.dm.add(`${T}Peer.`, 'system', { Address: '2001:0:c000:20a:0:f4ff:3fff:fdfe', Type: 'Teredo' }).instance;

    assert.deepEqual((await withMib('snmpwalk', ['-v2c', '-c', 'public', a.target, 'TWINSTACK-FAILOVER-MIB::tsTeredo'])).trim().split('\n'), [
      'tsTeredoEnable.0 = INTEGER: true(1)',
      'tsTeredoStatus.0 = INTEGER: qualified(4)',
      'tsTeredoServerAddress.0 = IpAddress: 192.0.2.10',
      'tsTeredoSecondaryServerAddress.0 = IpAddress: 192.0.2.11',
      'tsTeredoRefreshInterval.0 = Gauge32: 60 seconds',
      'tsTeredoLanPrefix.0 = STRING: fd00:db8:1::/64',
      'tsTeredoAddress.0 = STRING: 2001:0:c000:20a:0:63bf:39cc:9bf8',
      'tsTeredoMappedAddress.0 = IpAddress: 198.51.100.7',
      'tsTeredoMappedPort.0 = Gauge32: 40000',
      'tsTeredoNatType.0 = INTEGER: restricted(3)',
      'tsTeredoQualificationTime.0 = STRING: 2026-12-6,23:3:0.0,+0:0',
      'tsTeredoRelayInUse.0 = STRING: 192.0.2.77:3544',
      'tsTeredoLastError.0 = STRING: no answer from 192.0.2.10 (before qualifying)',
      'tsTeredoPeerNumberOfEntries.0 = Gauge32: 2',
      'tsTeredoPacketsSent.0 = Counter64: 5000000000',
      'tsTeredoPacketsReceived.0 = Counter64: 42',
      'tsTeredoBytesSent.0 = Counter64: 18446744073709551615 bytes',
      'tsTeredoBytesReceived.0 = Counter64: 1234 bytes',
      'tsTeredoQualifications.0 = Counter32: 3',
      'tsTeredoAddressChanges.0 = Counter32: 1',
      'tsTeredoServerPackets.0 = Counter64: 17',
      'tsTeredoDropped.0 = Counter64: 2',
    ]);
    assert.deepEqual((await withMib('snmpwalk', ['-v2c', '-c', 'public', a.target, 'TWINSTACK-FAILOVER-MIB::tsTeredoPeerTable'])).split('\n').filter(Boolean), [
      `tsTeredoPeerAddress.${native} = STRING: 2001:db8:0:0:0:0:0:1`,
      `tsTeredoPeerAddress.${peer2} = STRING: 2001:0:c000:20a:0:f4ff:3fff:fdfe`,
      `tsTeredoPeerType.${native} = INTEGER: native(2)`,
      `tsTeredoPeerType.${peer2} = INTEGER: teredo(1)`,
      `tsTeredoPeerTrusted.${native} = INTEGER: true(1)`,
      `tsTeredoPeerTrusted.${peer2} = INTEGER: false(2)`,
      `tsTeredoPeerVia.${native} = STRING: 192.0.2.77:3544`,
      `tsTeredoPeerVia.${peer2} = STRING: `,
      `tsTeredoPeerPacketsSent.${native} = Counter64: 10`,
      `tsTeredoPeerPacketsSent.${peer2} = Counter64: 0`,
      `tsTeredoPeerPacketsReceived.${native} = Counter64: 9`,
      `tsTeredoPeerPacketsReceived.${peer2} = Counter64: 0`,
      `tsTeredoPeerDropped.${native} = Counter64: 1`,
      `tsTeredoPeerDropped.${peer2} = Counter64: 0`,
    ]);
    // A later change reaches the view (the provider watches the Teredo object).
    a.dm.set({ [`${T}Status`]: 'Error', [`${T}NATType`]: 'Symmetric', [`${T}TeredoAddress`]: '' }, 'system');
    assert.deepEqual((await withMib('snmpget', ['-v2c', '-c', 'public', a.target, 'tsTeredoStatus.0', 'tsTeredoNatType.0', 'tsTeredoAddress.0'])).split('\n').filter(Boolean),
      ['tsTeredoStatus.0 = INTEGER: error(5)', 'tsTeredoNatType.0 = INTEGER: symmetric(4)', 'tsTeredoAddress.0 = STRING: ']);

    await withMib('snmpset', ['-v2c', '-c', 'private', a.target, 'tsTeredoEnable.0', 'i', 'false', 'tsTeredoServerAddress.0', 'a', '192.0.2.20',
      'tsTeredoSecondaryServerAddress.0', 'a', '0.0.0.0', 'tsTeredoRefreshInterval.0', 'u', '45', 'tsTeredoLanPrefix.0', 's', 'fd00:db8:2::/64']);
    assert.deepEqual(['Enable', 'ServerAddress', 'SecondaryServerAddress', 'RefreshInterval', 'LANPrefix'].map((p) => a.dm.getValue(`${T}${p}`)),
      ['false', '192.0.2.20', '', '45', 'fd00:db8:2::/64'], '0.0.0.0 is no address');
    assert.deepEqual((await withMib('snmpget', ['-v2c', '-c', 'public', a.target, 'tsTeredoServerAddress.0', 'tsTeredoSecondaryServerAddress.0'])).split('\n').filter(Boolean),
      ['tsTeredoServerAddress.0 = IpAddress: 192.0.2.20', 'tsTeredoSecondaryServerAddress.0 = IpAddress: 0.0.0.0']);

    // Numeric OIDs, no MIB: the agent's own checks, not snmpset's.
    const S = '.1.3.6.1.4.1.32473.6333.1.18.';
    const P = '.1.3.6.1.4.1.32473.6333.2.6.1.';
    const refused: [string, string[], RegExp][] = [
      ['refresh interval below 5 s', [`${S}5.0`, 'u', '4'], /wrongValue/],
      ['refresh interval above 3600 s', [`${S}5.0`, 'u', '3601'], /wrongValue/],
      ['enable outside TruthValue', [`${S}1.0`, 'i', '3'], /wrongValue/],
      ['a string into an IpAddress', [`${S}3.0`, 's', '192.0.2.30'], /wrongType/],
      ['LAN prefix over 49 octets', [`${S}6.0`, 's', `fd00:${'0:'.repeat(22)}:/64`], /wrongLength/],
      ...([[2, 'i', '4'], [7, 'x', '20010000c000020a000063bf39cc9bf8'], [8, 'a', '198.51.100.8'], [9, 'u', '1'], [10, 'i', '2'],
        [11, 'x', '07EA0C06170300002B0000'], [12, 's', '192.0.2.78:3544'], [13, 's', ''], [14, 'u', '0'], [15, 'u', '0'], [16, 'u', '0'],
        [17, 'u', '0'], [18, 'u', '0'], [19, 'u', '0'], [20, 'u', '0'], [21, 'u', '0'], [22, 'u', '0']] as const)
        .map(([n, t, x]): [string, string[], RegExp] => [`tsTeredo scalar ${n} is read-only`, [`${S}${n}.0`, t, x], /notWritable/]),
      ...([[2, 'x', '20010db8000000000000000000000002'], [3, 'i', '1'], [4, 'i', '2'], [5, 's', ''], [6, 'u', '0'], [7, 'u', '0'], [8, 'u', '0']] as const)
        .map(([n, t, x]): [string, string[], RegExp] => [`tsTeredoPeerTable column ${n} is read-only`, [`${P}${n}.${native}`, t, x], /notWritable/]),
    ];
    for (const [what, args, error] of refused) assert.match((await toolResult('snmpset', ['-v2c', '-c', 'private', a.target, ...args])).stderr, error, what);
    assert.deepEqual([`${T}RefreshInterval`, `${T}Enable`, `${T}ServerAddress`, `${T}Status`, `${T}Peer.${native}.Type`].map((p) => a.dm.getValue(p)),
      ['45', 'false', '192.0.2.20', 'Error', 'Native'], 'nothing refused was written');
  } finally {
    await a.svc.stop();
    a.dm.close();
  }
});

test('teredo(6) of TsIPv4ServiceMode: tsFailoverMode, the history and tsFailoverModeChange', async () => {
  const trapd = await startTrapd();
  const a = await startAgent({ ...CONFIG, trapTargets: [{ host: '127.0.0.1', port: trapd.port, version: 'v2c', community: 'public' }] });
  try {
    a.dm.set({ [`${FO_PATH}Mode`]: 'Teredo', [`${FO_PATH}SwitchCount`]: '1' }, 'system');
    const h = a.dm.add(`${FO_PATH}History.`, 'system', { Time: '2026-12-06T23:03:00Z', From: 'DualStack', To: 'Teredo', Reason: 'Teredo qualified' }).instance;
    assert.deepEqual((await withMib('snmpget', ['-v2c', '-c', 'public', a.target, 'tsFailoverMode.0', `tsFailoverHistoryFrom.${h}`, `tsFailoverHistoryTo.${h}`]))
      .trim().split('\n'), ['tsFailoverMode.0 = INTEGER: teredo(6)', `tsFailoverHistoryFrom.${h} = INTEGER: dualStack(2)`, `tsFailoverHistoryTo.${h} = INTEGER: teredo(6)`]);
    await until(() => trapd.text().includes('.1.3.6.1.4.1.32473.6333.1.2.0 = INTEGER: 6'), 3000, 'tsFailoverModeChange with teredo(6)');
  } finally {
    await a.svc.stop();
    a.dm.close();
    await trapd.stop();
  }
});
