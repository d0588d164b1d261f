// The cwmp section of the agent config (schema/config/cwmp.schema.json) and the agent hooks main.ts passes.
// Deployment settings only: what the ACS manages (URL, credentials, periodic inform) lives in
// Device.ManagementServer; `factoryDefaults` only seeds those parameters on the very first start.

export interface CwmpConfig {
  enable: boolean;
  connectionRequest: {
    enable: boolean;
    address: string;
    port: number;
    path: string;
    /** Host put in ConnectionRequestURL when the listen address is not what the ACS should use. */
    host?: string;
    /**
     * Sessions started by connection requests, as a token bucket (TR-069 §3.2.2 lets the CPE limit them): up
     * to `max` at once, refilled at `max` per `windowSeconds`. Requests during a session cost nothing (they
     * make one session after it, which takes its token when it starts); an idle CPE out of tokens answers
     * 503. Unauthenticated tries (challenges, wrong answers) have 5x this budget.
     */
    rateLimit: { max: number; windowSeconds: number };
  };
  /** PEM file of the CAs trusted for an https ACS and https downloads (default: the system CAs). */
  tls: { caFile?: string };
  /** How long the CPE waits for each ACS reply (TR-069 §3.2.1: at least 30 s). */
  sessionTimeoutSeconds: number;
  /** Largest ACS message accepted; a larger one ends the session. */
  maxMessageBytes: number;
  /** Largest file a Download may fetch. */
  maxDownloadBytes: number;
  factoryDefaults: {
    url?: string;
    username?: string;
    password?: string;
    periodicInformEnable: boolean;
    periodicInformInterval: number;
    connectionRequestUsername?: string;
    connectionRequestPassword?: string;
  };
}

export const DEFAULT_CONFIG: CwmpConfig = {
  enable: true,
  connectionRequest: { enable: true, address: '127.0.0.1', port: 7547, path: '/cwmp-cr', rateLimit: { max: 30, windowSeconds: 60 } },
  tls: {},
  sessionTimeoutSeconds: 30,
  maxMessageBytes: 4 * 1024 * 1024,
  maxDownloadBytes: 256 * 1024 * 1024,
  factoryDefaults: { periodicInformEnable: true, periodicInformInterval: 86400 },
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type CwmpConfigInput = DeepPartial<CwmpConfig>;

/** Fills defaults (ajv already did for the agent's config; tests pass partial objects). */
export function resolveConfig(c: CwmpConfigInput = {}): CwmpConfig {
  const d = DEFAULT_CONFIG;
  return {
    ...d, ...c,
    connectionRequest: { ...d.connectionRequest, ...c.connectionRequest, rateLimit: { ...d.connectionRequest.rateLimit, ...c.connectionRequest?.rateLimit } },
    tls: { ...d.tls, ...c.tls },
    factoryDefaults: { ...d.factoryDefaults, ...c.factoryDefaults },
  } as CwmpConfig;
}

/** What the agent does for the ACS's Reboot, FactoryReset and Download (main.ts wires the real ones). */
export interface CwmpHooks {
  reboot(): void | Promise<void>;
  factoryReset(): void | Promise<void>;
  /** Where downloaded files are put. */
  downloadsDir: string;
  /**
   * Installs a downloaded file ("1 Firmware Upgrade Image", "3 Vendor Configuration File"). Throwing fails the
   * transfer (9010); `{ reboot: true }` reboots before TransferComplete is sent. Without it, files are kept.
   */
  install?(file: { fileType: string; path: string; targetFileName: string }): Promise<{ reboot?: boolean } | void>;
  /** Every CWMP message the CPE sends (tests validate them against the XSD). */
  onSend?(xml: string): void;
}
