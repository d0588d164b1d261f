// The parts of asn1-ber (npm, no bundled types; the BER library net-snmp is built on) that src/snmp uses.
// Readers return null when the buffer ends early and throw an Error named InvalidAsn1Error on a tag mismatch.
declare module 'asn1-ber' {
  export class BerReader {
    constructor(data: Buffer);
    /** Content length of the last tag/length read. */
    readonly length: number;
    readonly offset: number;
    readonly remain: number;
    peek(): number | null;
    /** Reads a constructed value's tag and length (contents follow at `offset`). */
    readSequence(tag?: number): number | null;
    readInt(tag?: number): number | null;
    readString(tag: number, retbuf: true): Buffer | null;
    /** Not used by src/snmp (see ber.ts); the tests show why. */
    readOID(): string | null;
  }
  export class BerWriter {
    constructor(options?: { size?: number; growthFactor?: number });
    /** What has been written so far (a view of the writer's buffer); throws while a sequence is open. */
    readonly buffer: Buffer;
    writeInt(i: number, tag?: number): void;
    writeNull(): void;
    /** With a tag, a primitive TLV; without one, `buf` is copied as already-encoded bytes. */
    writeBuffer(buf: Buffer, tag?: number): void;
    startSequence(tag?: number): void;
    endSequence(): void;
    /** Not used by src/snmp (see ber.ts); the tests show why. */
    writeOID(s: string): void;
  }
  const asn1: {
    Ber: { Reader: typeof BerReader; Writer: typeof BerWriter; OctetString: number; Null: number; OID: number; Sequence: number; Constructor: number };
  };
  export default asn1;
}
