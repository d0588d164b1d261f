// One BFD session in Asynchronous mode (RFC 5880 §6.1-6.8), active role, no Demand mode and no Echo
// function: the state variables of §6.8.1, the reception procedure of §6.8.6, the state machine of §6.2,
// timer negotiation and Poll/Final sequences (§6.5, §6.8.3), the Detection Time (§6.8.4) and jittered
// transmission (§6.8.7). Transport-free: datagrams go out through `send`, come in through `receive`.
import { randomBytes, randomInt } from 'node:crypto';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import { decode, encode, packet, verifyAuth, type AuthKey, type BfdDrop, type BfdPacket, type BfdState } from './bfd-codec.ts';

export interface BfdConfig {
  /** bfd.DesiredMinTxInterval while Up, microseconds */
  desiredMinTx: number;
  /** bfd.RequiredMinRxInterval, microseconds */
  requiredMinRx: number;
  /** bfd.DetectMult */
  detectMult: number;
  /** Authentication (§6.7); null: none (the default). */
  auth: AuthKey | null;
}

export type SessionDrop = BfdDrop | 'badYourDisc' | 'zeroYourDisc' | 'authUnexpected' | 'authMissing' | 'authFailed' | 'adminDown';

export interface BfdStatus {
  state: BfdState;
  remoteState: BfdState;
  localDiag: number;
  remoteDiag: number;
  localDiscr: number;
  remoteDiscr: number;
  /** negotiated transmit interval, microseconds (0 while the peer asks for none) */
  txInterval: number;
  /** Detection Time, microseconds (0 before the first packet) */
  detectionTime: number;
  /** wall-clock ms of the last control packet accepted from the peer (0: none yet) */
  lastReceivedAt: number;
  sent: number;
  received: number;
  dropped: number;
  drops: Partial<Record<SessionDrop, number>>;
}

const SLOW = 1_000_000; // §6.8.3: at least one second while not Up

export class BfdSession {
  private state: BfdState = 'Down';
  private remoteState: BfdState = 'Down';
  private readonly localDiscr: number;
  private remoteDiscr = 0;
  private localDiag = 0;
  private remoteDiag = 0;
  private remoteMinRx = 1; // §6.8.1: initialised to 1
  private remoteDesiredTx = 0;
  private remoteDetectMult = 0;
  /** advertised values (what our packets carry) and the values in force while a Poll Sequence runs */
  private advTx = SLOW;
  private advRx: number;
  private txActing = SLOW;
  private rxActing: number;
  private polling = false;
  private xmitSeq = randomBytes(4).readUInt32BE(0);
  private rcvSeq: number | null = null;
  private txTimer: NodeJS.Timeout | null = null;
  /** when the scheduled periodic transmission is due (ms epoch) */
  private nextTxAt = 0;
  private detectTimer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly counters = { sent: 0, received: 0, dropped: 0, drops: {} as Partial<Record<SessionDrop, number>> };
  private lastReceivedAt = 0;
  private readonly changes = new Emitter<{ from: BfdState; status: BfdStatus }>();

  constructor(private config: BfdConfig, private readonly send: (b: Buffer) => void, localDiscr?: number) {
    this.localDiscr = localDiscr ?? randomInt(1, 0xffffffff);
    this.advRx = this.rxActing = config.requiredMinRx;
  }

  onChange(fn: (e: { from: BfdState; status: BfdStatus }) => void): Disposable {
    return this.changes.on(fn);
  }

  status(): BfdStatus {
    const interval = this.remoteMinRx === 0 ? 0 : Math.max(this.txActing, this.remoteMinRx);
    return {
      state: this.state, remoteState: this.remoteState, localDiag: this.localDiag, remoteDiag: this.remoteDiag,
      localDiscr: this.localDiscr, remoteDiscr: this.remoteDiscr, txInterval: interval, detectionTime: this.detectionTime(),
      lastReceivedAt: this.lastReceivedAt,
      sent: this.counters.sent, received: this.counters.received, dropped: this.counters.dropped, drops: { ...this.counters.drops },
    };
  }

  start(): void {
    this.running = true;
    this.state = 'Down';
    this.transmit();
    this.scheduleTx();
  }

  /** Ends the session: AdminDown with diagnostic 7 is sent once so the peer does not see a failure (§6.8.16). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.clearTimers();
    const from = this.state;
    this.state = 'AdminDown';
    this.localDiag = 7;
    this.polling = false;
    this.transmit();
    if (from !== 'AdminDown') this.changes.fire({ from, status: this.status() });
  }

  /** New timers or authentication: take effect at once, through a Poll Sequence while Up (§6.8.3). */
  configure(c: BfdConfig): void {
    this.config = c;
    this.updateTimers();
  }

  receive(raw: Buffer): void {
    const p = decode(raw);
    if (typeof p === 'string') return this.drop(p);
    const why = this.accept(raw, p);
    if (why) return this.drop(why);
    this.counters.received++;
    this.lastReceivedAt = Date.now();
    this.remoteDiscr = p.myDisc;
    this.remoteState = p.state;
    this.remoteDiag = p.diag;
    this.remoteMinRx = p.requiredMinRx;
    this.remoteDesiredTx = p.desiredMinTx;
    this.remoteDetectMult = p.detectMult;
    if (p.final && this.polling) {
      this.polling = false;
      this.txActing = this.advTx;
      this.rxActing = this.advRx;
    }
    // The state machine (§6.8.6).
    const s = this.state;
    if (p.state === 'AdminDown') {
      if (s !== 'Down') this.moveTo('Down', 3);
    } else if (s === 'Down') {
      if (p.state === 'Down') this.moveTo('Init', 0);
      else if (p.state === 'Init') this.moveTo('Up', 0);
    } else if (s === 'Init') {
      if (p.state === 'Init' || p.state === 'Up') this.moveTo('Up', 0);
    } else if (p.state === 'Down') {
      this.moveTo('Down', 3);
    }
    // §6.8.7: a Poll is answered at once with Final, whatever the timers.
    if (p.poll) this.transmit(true);
    this.armDetection();
    // The interval may have shrunk with the peer's Required Min RX: FRR bfdd, like the slow rate of §6.8.3,
    // asks for 1 s until it is Up and then for its real rate. A transmission scheduled later than the new
    // interval is brought forward, or the peer's Detection Time expires before it (§6.8.7).
    if (!this.txTimer || this.nextTxAt - Date.now() > this.interval() / 1000) this.scheduleTx();
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** The §6.8.6 checks that need the session; a reason to discard, or null. */
  private accept(raw: Buffer, p: BfdPacket): SessionDrop | null {
    if (!this.running || this.state === 'AdminDown') return 'adminDown';
    if (p.yourDisc !== 0 && p.yourDisc !== this.localDiscr) return 'badYourDisc';
    if (p.yourDisc === 0 && p.state !== 'Down' && p.state !== 'AdminDown') return 'zeroYourDisc';
    const key = this.config.auth;
    if (p.auth && !key) return 'authUnexpected';
    if (!p.auth && key) return 'authMissing';
    if (p.auth && key) {
      if (!verifyAuth(raw, p, key)) return 'authFailed';
      if (key.type > 1) {
        // §6.7.3/6.7.4: the sequence number must lie within 3 x Detect Mult of the last one received;
        // the meticulous types require it to increase.
        const seq = p.auth.sequence;
        if (this.rcvSeq !== null) {
          const ahead = (seq - this.rcvSeq) >>> 0;
          const meticulous = key.type === 3 || key.type === 5;
          if ((meticulous && ahead === 0) || ahead > 3 * p.detectMult) return 'authFailed';
        }
        this.rcvSeq = seq;
      }
    }
    return null;
  }

  private drop(why: SessionDrop) {
    this.counters.dropped++;
    this.counters.drops[why] = (this.counters.drops[why] ?? 0) + 1;
  }

  private moveTo(next: BfdState, diag: number) {
    const from = this.state;
    this.state = next;
    if (next === 'Down' || diag !== 0) this.localDiag = diag;
    else if (next === 'Up') this.localDiag = 0;
    if (next === 'Down' && diag === 1) {
      // The peer is gone: forget its discriminator (§6.8.1) and its timers, as for a new session.
      this.remoteDiscr = 0;
      this.remoteMinRx = 1;
      this.remoteDetectMult = 0;
      this.remoteState = 'Down';
    }
    this.updateTimers();
    this.changes.fire({ from, status: this.status() });
    // Tell the peer at once rather than at the next periodic packet.
    this.transmit();
  }

  /** §6.8.3: 1 s while not Up; a change while Up starts a Poll Sequence and waits for Final to slow down. */
  private updateTimers() {
    const tx = this.state === 'Up' ? this.config.desiredMinTx : Math.max(SLOW, this.config.desiredMinTx);
    const rx = this.config.requiredMinRx;
    if (tx === this.advTx && rx === this.advRx) return;
    if (this.state === 'Up') {
      this.txActing = tx > this.advTx ? this.advTx : tx;
      this.rxActing = rx < this.advRx ? this.advRx : rx;
      this.polling = true;
    } else {
      this.txActing = tx;
      this.rxActing = rx;
      this.polling = false;
    }
    this.advTx = tx;
    this.advRx = rx;
    if (this.running) this.scheduleTx();
  }

  /** The periodic transmission interval in force, microseconds (§6.8.7). */
  private interval(): number {
    return Math.max(this.txActing, this.remoteMinRx);
  }

  private detectionTime(): number {
    if (this.remoteDetectMult === 0) return 0;
    return this.remoteDetectMult * Math.max(this.rxActing, this.remoteDesiredTx);
  }

  private armDetection() {
    if (this.detectTimer) clearTimeout(this.detectTimer);
    const t = this.detectionTime();
    if (!t) return;
    this.detectTimer = setTimeout(() => {
      this.detectTimer = null;
      if (this.state === 'Init' || this.state === 'Up') this.moveTo('Down', 1);
      else {
        this.remoteDiscr = 0;
        this.remoteMinRx = 1;
        this.remoteDetectMult = 0;
      }
    }, t / 1000);
    this.detectTimer.unref?.();
  }

  /** §6.8.7: periodic, jittered by up to 25 % (75-90 % of the interval when Detect Mult is 1). */
  private scheduleTx() {
    if (this.txTimer) clearTimeout(this.txTimer);
    this.txTimer = null;
    if (!this.running || this.remoteMinRx === 0) return;
    const factor = this.config.detectMult === 1 ? 0.75 + Math.random() * 0.15 : 0.75 + Math.random() * 0.25;
    const delay = (this.interval() * factor) / 1000;
    this.nextTxAt = Date.now() + delay;
    this.txTimer = setTimeout(() => {
      this.txTimer = null;
      this.transmit();
      this.scheduleTx();
    }, delay);
    this.txTimer.unref?.();
  }

  private transmit(final = false) {
    const p = packet({
      diag: this.localDiag, state: this.state, poll: this.polling && !final, final, detectMult: this.config.detectMult,
      myDisc: this.localDiscr, yourDisc: this.remoteDiscr, desiredMinTx: this.advTx, requiredMinRx: this.advRx,
    });
    const key = this.config.auth ?? undefined;
    if (key && key.type > 1) this.xmitSeq = (this.xmitSeq + 1) >>> 0; // §6.7.3/6.7.4 (every packet: valid for all keyed types)
    this.send(encode(p, key, this.xmitSeq));
    this.counters.sent++;
  }

  private clearTimers() {
    if (this.txTimer) clearTimeout(this.txTimer);
    if (this.detectTimer) clearTimeout(this.detectTimer);
    this.txTimer = this.detectTimer = null;
  }
}
