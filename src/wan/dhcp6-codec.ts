// DHCPv6 messages (RFC 8415 §8, §21): the client's side of the wire format, and the options a DS-Lite B4
// needs: IA_NA/IA_PD, DNS servers (RFC 3646) and AFTR-Name (RFC 6334).
import { canonicalIPv6 } from '../datamodel/index.ts';

export const MSG = { SOLICIT: 1, ADVERTISE: 2, REQUEST: 3, RENEW: 5, REBIND: 6, REPLY: 7, RELEASE: 8 } as const;
export const OPT = {
  CLIENTID: 1, SERVERID: 2, IA_NA: 3, IAADDR: 5, ORO: 6, ELAPSED_TIME: 8, STATUS_CODE: 13, RAPID_COMMIT: 14,
  DNS_SERVERS: 23, IA_PD: 25, IAPREFIX: 26, AFTR_NAME: 64,
} as const;

export interface Option { code: number; data: Buffer }
export interface Message { type: number; xid: number; options: Option[] }

export interface IaAddr { address: string; preferred: number; valid: number }
export interface IaPrefix { prefix: string; preferred: number; valid: number }
export interface Ia { iaid: number; t1: number; t2: number; addrs: IaAddr[]; prefixes: IaPrefix[]; status?: number }

export function encodeOptions(opts: readonly Option[]): Buffer {
  return Buffer.concat(opts.map((o) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(o.code, 0);
    h.writeUInt16BE(o.data.length, 2);
    return Buffer.concat([h, o.data]);
  }));
}

export function decodeOptions(buf: Buffer): Option[] {
  const out: Option[] = [];
  for (let i = 0; i + 4 <= buf.length; ) {
    const code = buf.readUInt16BE(i);
    const len = buf.readUInt16BE(i + 2);
    if (i + 4 + len > buf.length) throw new Error('dhcpv6: option overruns the message');
    out.push({ code, data: buf.subarray(i + 4, i + 4 + len) });
    i += 4 + len;
  }
  return out;
}

export function encode(m: Message): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(m.xid & 0xffffff, 0);
  h[0] = m.type;
  return Buffer.concat([h, encodeOptions(m.options)]);
}

export function decode(buf: Buffer): Message {
  if (buf.length < 4) throw new Error('dhcpv6: short message');
  return { type: buf[0], xid: buf.readUInt32BE(0) & 0xffffff, options: decodeOptions(buf.subarray(4)) };
}

export const opt = (code: number, data: Buffer = Buffer.alloc(0)): Option => ({ code, data });
export const find = (opts: readonly Option[], code: number) => opts.find((o) => o.code === code);

const u32 = (...n: number[]) => { const b = Buffer.alloc(4 * n.length); n.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i)); return b; };
const u16 = (...n: number[]) => { const b = Buffer.alloc(2 * n.length); n.forEach((v, i) => b.writeUInt16BE(v, 2 * i)); return b; };

function addrBytes(a: string): Buffer {
  const words = canonicalIPv6(a).split('::');
  const head = words[0] ? words[0].split(':') : [];
  const tail = words.length > 1 && words[1] ? words[1].split(':') : [];
  const all = words.length > 1 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return u16(...all.map((w) => parseInt(w, 16)));
}

export function addrText(b: Buffer): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return canonicalIPv6(words.join(':'));
}

/** DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet), the link-layer address. */
export function duidLL(mac: string): Buffer {
  return Buffer.concat([u16(3, 1), Buffer.from(mac.split(':').map((x) => parseInt(x, 16)))]);
}

/** IA_NA / IA_PD with T1 = T2 = 0 (the server chooses, RFC 8415 §21.4), optionally holding what we have. */
export function encodeIa(code: typeof OPT.IA_NA | typeof OPT.IA_PD, ia: Pick<Ia, 'iaid' | 'addrs' | 'prefixes'>, lifetimes = false): Option {
  const inner: Option[] = code === OPT.IA_NA
    ? ia.addrs.map((a) => opt(OPT.IAADDR, Buffer.concat([addrBytes(a.address), lifetimes ? u32(a.preferred, a.valid) : u32(0, 0)])))
    : ia.prefixes.map((p) => {
      const [net, len] = p.prefix.split('/');
      return opt(OPT.IAPREFIX, Buffer.concat([lifetimes ? u32(p.preferred, p.valid) : u32(0, 0), Buffer.from([Number(len)]), addrBytes(net)]));
    });
  return opt(code, Buffer.concat([u32(ia.iaid, 0, 0), encodeOptions(inner)]));
}

export function decodeIa(o: Option): Ia {
  const ia: Ia = { iaid: o.data.readUInt32BE(0), t1: o.data.readUInt32BE(4), t2: o.data.readUInt32BE(8), addrs: [], prefixes: [] };
  for (const s of decodeOptions(o.data.subarray(12))) {
    if (s.code === OPT.IAADDR && s.data.length >= 24)
      ia.addrs.push({ address: addrText(s.data.subarray(0, 16)), preferred: s.data.readUInt32BE(16), valid: s.data.readUInt32BE(20) });
    else if (s.code === OPT.IAPREFIX && s.data.length >= 25)
      ia.prefixes.push({ prefix: `${addrText(s.data.subarray(9, 25))}/${s.data[8]}`, preferred: s.data.readUInt32BE(0), valid: s.data.readUInt32BE(4) });
    else if (s.code === OPT.STATUS_CODE && s.data.length >= 2) ia.status = s.data.readUInt16BE(0);
  }
  return ia;
}

/** Status code of a message or IA (RFC 8415 §21.13); 0 Success when absent. */
export function statusOf(opts: readonly Option[]): number {
  const s = find(opts, OPT.STATUS_CODE);
  return s && s.data.length >= 2 ? s.data.readUInt16BE(0) : 0;
}

export const oro = (...codes: number[]) => opt(OPT.ORO, u16(...codes));
export const elapsed = (centis: number) => opt(OPT.ELAPSED_TIME, u16(Math.min(0xffff, centis)));

export function dnsServers(o: Option | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; o && i + 16 <= o.data.length; i += 16) out.push(addrText(o.data.subarray(i, i + 16)));
  return out;
}

/** A domain name in DNS wire format (RFC 1035 §3.1, as RFC 6334 §3 carries the AFTR-Name), as text. */
export function domainName(o: Option | undefined): string {
  if (!o) return '';
  const labels: string[] = [];
  for (let i = 0; i < o.data.length; ) {
    const len = o.data[i];
    if (len === 0) break;
    labels.push(o.data.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += 1 + len;
  }
  return labels.join('.');
}
