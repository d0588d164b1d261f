// A hand-built SNMPv3 manager for the tests: discovery (RFC 3414 §4) and requests with chosen
// engineBoots/engineTime, to show the timeliness checks that Net-SNMP's tools resynchronise around.
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import snmp from 'net-snmp';
import { encodeVarbind, parseOid } from '../../src/snmp/ber.ts';
import { decodeMessage, decodeScopedPdu, encodePdu, type V3Message } from '../../src/snmp/message.ts';
import { Engine, Usm, type UsmUser } from '../../src/snmp/usm.ts';

export const NOC: UsmUser = { name: 'nocuser', authProtocol: 'sha', authPassword: 'authpass123', privProtocol: 'aes', privPassword: 'privpass123', level: 'authPriv', access: 'rw' };
const client = new Usm(new Engine(Buffer.from('80007ed9050000000000000001', 'hex'), 1), [NOC]);

export async function exchange(port: number, buf: Buffer, timeoutMs = 1000): Promise<Buffer | undefined> {
  const s = createSocket('udp4');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), timeoutMs);
      s.on('message', (m) => { clearTimeout(t); resolve(m); });
      s.send(buf, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

/** RFC 3414 §4: an unauthenticated probe; the report carries the agent's engineID, boots and time. */
export async function discover(port: number): Promise<{ engineID: Buffer; boots: number; time: number }> {
  const id = randomInt(1, 0x7fffffff);
  const probe = client.wrap({ msgID: id, pdu: encodePdu('GetRequest', id, 0, 0, []), reportable: true, level: 'noAuthNoPriv', engine: { engineID: Buffer.alloc(0), boots: 0, time: 0 } });
  const r = await exchange(port, probe);
  if (!r) throw new Error('no discovery report');
  const m = decodeMessage(r) as V3Message;
  return { engineID: m.usm.engineID, boots: m.usm.engineBoots, time: m.usm.engineTime };
}

/** An authPriv GET built with the given engine values; `send` lets the caller replay the same bytes. */
export function authPrivGet(engine: { engineID: Buffer; boots: number; time: number }, oid: string, user = NOC): Buffer {
  const id = randomInt(1, 0x7fffffff);
  const vb = encodeVarbind(parseOid(oid), { type: 'Null' });
  return client.wrap({ msgID: id, user, pdu: encodePdu('GetRequest', id, 0, 0, [vb]), reportable: true, level: 'authPriv', engine });
}

/** Decodes a reply: its PDU type and first varbind OID (decrypting with the user's keys if needed). */
export function readReply(buf: Buffer, user = NOC): { type: string; oid: string } {
  const m = decodeMessage(buf) as V3Message;
  const scoped = Buffer.isBuffer(m.scoped)
    ? decodeScopedPdu(snmp.Encryption.decryptPdu(snmp.PrivProtocols[user.privProtocol!], m.scoped, m.usm.privParams, user.privPassword,
      snmp.AuthProtocols[user.authProtocol!], { engineID: m.usm.engineID, engineBoots: m.usm.engineBoots, engineTime: m.usm.engineTime }))
    : m.scoped;
  return { type: scoped.pdu.type, oid: scoped.pdu.varbinds[0]?.oid.join('.') ?? '' };
}
