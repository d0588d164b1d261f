// WebSocket MTP, agent side (TR-369 §6.4 "WebSocket Binding"): the agent connects to the controller's
// WebSocket server given by Controller.{i}.MTP.{i}.WebSocket (Host, Port, Path, EnableEncryption) with the
// "v1.usp" subprotocol and the bbf-usp-protocol extension naming our EndpointID (R-WS.6). Each binary frame is
// one USP Record. A WebSocketConnect record follows every open. Reconnects with the MTP's
// SessionRetryMinimumWaitInterval/SessionRetryIntervalMultiplier backoff; pings every KeepAliveInterval.
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { retryDelayMs } from './rows.ts';

/**
 * ws is loaded with the first WebSocket MTP, not with the USP face: most gateways reach their controller over
 * MQTT only, and the library's code is ~5 MB of a gateway's RAM (docs/benchmarks.md "Footprint").
 */
let WebSocketClass: typeof WebSocket | undefined;

export interface WsSettings {
  url: string;
  keepAlive: number; // seconds, 0: off
  retry: { min: number; multiplier: number };
}

export interface WsEvents {
  record(bytes: Buffer): void;
  connected(): void;
  status(retryCount: number): void;
}

export class WsMtp {
  private ws?: WebSocket;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private ping?: NodeJS.Timeout;
  private stopped = false;
  up = false;

  constructor(readonly settings: WsSettings, private readonly endpointId: string, private readonly events: WsEvents, private readonly log: Logger) {}

  start(): void {
    if (this.stopped) return;
    if (!WebSocketClass) {
      import('ws').then((m) => {
        WebSocketClass = m.default;
        this.start();
      }, (err: Error) => this.log.error({ err }, 'the ws library did not load: no WebSocket MTP'));
      return;
    }
    const ws = (this.ws = new WebSocketClass(this.settings.url, 'v1.usp', {
      headers: { 'Sec-WebSocket-Extensions': `bbf-usp-protocol; eid="${this.endpointId}"` },
      handshakeTimeout: 10_000,
      perMessageDeflate: false, // otherwise ws replaces our Sec-WebSocket-Extensions header
    }));
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      if (ws.protocol !== 'v1.usp') {
        this.log.warn({ url: this.settings.url, protocol: ws.protocol }, 'websocket peer did not accept v1.usp');
        ws.close(1002);
        return;
      }
      this.attempt = 0;
      this.up = true;
      this.events.status(0);
      if (this.settings.keepAlive > 0) {
        this.ping = setInterval(() => ws.ping(), this.settings.keepAlive * 1000);
        this.ping.unref();
      }
      this.log.info({ url: this.settings.url }, 'websocket connected');
      this.events.connected();
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        this.log.warn({ url: this.settings.url }, 'websocket text frame dropped');
        return;
      }
      this.events.record(data as Buffer);
    });
    ws.on('error', (err) => this.log.warn({ err: err.message, url: this.settings.url }, 'websocket error'));
    ws.on('close', () => {
      this.up = false;
      clearInterval(this.ping);
      if (this.stopped) return;
      this.attempt++;
      this.events.status(this.attempt);
      const delay = retryDelayMs(this.attempt, this.settings.retry.min, this.settings.retry.multiplier, 3600);
      this.log.info({ url: this.settings.url, attempt: this.attempt, delay }, 'websocket reconnect scheduled');
      this.timer = setTimeout(() => this.start(), delay);
    });
  }

  send(bytes: Uint8Array): boolean {
    if (!this.ws || !this.up) return false;
    this.ws.send(bytes, { binary: true });
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.ping);
    this.up = false;
    this.ws?.terminate();
  }
}
