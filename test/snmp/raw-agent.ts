// The bare npm net-snmp agent (no twinstack code), run as a child process by gaps.test.ts so that the
// library's own behaviour can be shown next to ours, including the crash of gap 1.
// Usage: node --import tsx test/snmp/raw-agent.ts PORT [counter64-number]
import snmp from 'net-snmp';

const port = Number(process.argv[2]);
const agent = snmp.createAgent({ port, address: '127.0.0.1', accessControlModelType: 1 /* Simple */ }, () => {});
const auth = agent.getAuthorizer();
auth.addCommunity('public');
auth.addCommunity('private');
auth.addUser({ name: 'nocuser', level: snmp.SecurityLevel.authPriv, authProtocol: snmp.AuthProtocols.sha, authKey: 'authpass123', privProtocol: snmp.PrivProtocols.aes, privKey: 'privpass123' });
auth.getAccessControlModel().setCommunityAccess('private', 2 /* ReadWrite */);
auth.getAccessControlModel().setUserAccess('nocuser', 2);
const mib = agent.getMib();
const rw = snmp.MaxAccess['read-write'];
const O = snmp.ObjectType;
const scalar = (name: string, oid: string, scalarType: number, value: unknown, constraints?: object) => {
  mib.registerProvider({ name, type: snmp.MibProviderType.Scalar, oid, scalarType, maxAccess: rw, constraints });
  mib.setScalarValue(name, value);
};
// The same objects our agent serves, at the same OIDs (the enterprise MIB's scalars).
scalar('binary', '1.3.6.1.4.1.32473.6333.1.5', O.OctetString, '');
scalar('forcedMode', '1.3.6.1.4.1.32473.6333.1.3', O.Integer, 1, { enumeration: { 1: 'auto', 2: 'dsLite', 3: 'dualStack' } });
scalar('primaryDetector', '1.3.6.1.4.1.32473.6333.1.8', O.OctetString, 'Silence', { sizes: [{ min: 0, max: 32 }] });
scalar('combine', '1.3.6.1.4.1.32473.6333.1.7', O.Integer, 1);
// A 1,200-row, three-column table (bulk and size tests).
mib.registerProvider({
  name: 'big', type: snmp.MibProviderType.Table, oid: '1.3.6.1.4.1.32473.6333.9.1',
  tableColumns: [
    { number: 1, name: 'idx', type: O.Integer, maxAccess: snmp.MaxAccess['read-only'] },
    { number: 2, name: 'name', type: O.OctetString, maxAccess: snmp.MaxAccess['read-only'] },
    { number: 3, name: 'count', type: process.argv[3] === 'counter64-number' ? O.Counter64 : O.Counter32, maxAccess: snmp.MaxAccess['read-only'] },
  ],
  tableIndex: [{ columnName: 'idx' }],
});
for (let i = 1; i <= 1200; i++) mib.addTableRow('big', [i, `row-${String(i).padStart(6, '0')}`, 1000 + i]);
// Ready once the socket is bound (the library binds asynchronously).
const sockets = Object.values(agent.listener.sockets) as import('node:dgram').Socket[];
Promise.all(sockets.map((s) => new Promise<void>((r) => { try { s.address(); r(); } catch { s.once('listening', () => r()); } }))).then(() => console.log('ready'));
