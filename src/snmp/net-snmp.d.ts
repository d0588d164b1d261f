// The parts of net-snmp (npm, no bundled types) that twinstack uses: the USM crypto primitives in the agent,
// and sessions, agents and receivers in the tests and the benchmark.
declare module 'net-snmp' {
  interface EngineLike { engineID: Buffer; engineBoots: number; engineTime: number }
  const snmp: {
    AuthProtocols: Record<string, number>;
    PrivProtocols: Record<string, number>;
    SecurityLevel: Record<string, number>;
    ObjectType: Record<string, number>;
    PduType: Record<string, number>;
    ErrorStatus: Record<string, number>;
    MibProviderType: Record<string, number>;
    MaxAccess: Record<string, number>;
    Version1: number;
    Version2c: number;
    Version3: number;
    Authentication: {
      getParametersLength(proto: number): number;
      isAuthentic(msg: Buffer, proto: number, password: string | undefined, engineID: Buffer, digest: Buffer): boolean;
      writeParameters(msg: Buffer, proto: number, password: string | undefined, engineID: Buffer, digest: Buffer): void;
    };
    Encryption: {
      encryptPdu(priv: number, scoped: Buffer, password: string | undefined, auth: number, engine: EngineLike): { encryptedPdu: Buffer; msgPrivacyParameters: Buffer };
      decryptPdu(priv: number, data: Buffer, privParams: Buffer, password: string | undefined, auth: number, engine: EngineLike): Buffer;
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    createAgent(options: Record<string, unknown>, callback?: (err: unknown, data: unknown) => void): any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    createSession(target: string, community: string, options?: Record<string, unknown>): any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    createV3Session(target: string, user: Record<string, unknown>, options?: Record<string, unknown>): any;
  };
  export default snmp;
}
