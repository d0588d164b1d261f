// The verdict of an echo probe from the addon's outcome (native/echo.h). Pure: the worker applies it, the
// tests check it. The times in the outcome are the addon's own (CLOCK_MONOTONIC), never JavaScript's.
import type { NativeEchoOutcome } from './native.ts';
import type { EchoResult } from './types.ts';

// RFC 4443 §3.
const ICMPV6_ERRORS: Record<number, string> = { 1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded', 4: 'parameter problem' };

/** The EchoResult of a finished probe ('reply', 'error' or 'timeout') to `target` via `aftr`. */
export function echoVerdict(o: NativeEchoOutcome, target: string, timeoutMs: number): EchoResult {
  if (o.state === 'unknown' || o.state === 'pending') throw new Error(`echo: probe not finished (${o.state})`);
  const rttUs = Math.round(o.elapsedUs);
  const via = `${target} via ${o.aftr}`;
  const result = (ok: boolean, reason: string): EchoResult => ({ ok, rttUs, sentAt: o.sentAtMs, reason });
  switch (o.state) {
    case 'reply':
      return rttUs <= timeoutMs * 1000
        ? result(true, '')
        : result(false, `echo reply from ${via} after ${(rttUs / 1000).toFixed(1)} ms, later than ${timeoutMs} ms`);
    case 'error':
      return result(false, `ICMPv6 ${ICMPV6_ERRORS[o.type!] ?? 'error'} (type ${o.type}, code ${o.code}) from ${o.source} for the echo to ${via}`);
    case 'timeout':
      return result(false, `no echo reply from ${via} within ${timeoutMs} ms`);
  }
}
