// The enterprise MIB module: smilint at level 4 prints nothing (smilint exits 0 even on errors, PEERS §14),
// snmptranslate resolves our names, and every object the agent serves has a definition in a MIB module.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FO as FO_PATH, MIBDIRS, startAgent, tool } from './fixture.ts';

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
