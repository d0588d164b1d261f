// Commands the USP plug-in implements: Device.Reboot() and Device.FactoryReset() (through the hooks main.ts
// passes, unless another plug-in registered them first), Device.IP.Diagnostics.IPPing() (TR-181, async),
// and Device.LocalAgent.Controller.{i}.SendOnBoardRequest().
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { DmError, type DataModel, type Disposable } from '../datamodel/index.ts';

export interface UspHooks {
  reboot(): Promise<void> | void;
  factoryReset(): Promise<void> | void;
}

/** Debian's iputils `ping`, else busybox's applet (same -c/-W/-s options, same summary lines). */
function pingCommand(): [string, string[]] {
  for (const p of ['/usr/bin/ping', '/bin/ping']) if (existsSync(p)) return [p, []];
  return ['busybox', ['ping']];
}

/** Parses the summary of iputils/busybox ping into IPPing() output arguments (TR-181 IPPing() output). */
export function parsePing(out: string, sent: number): Record<string, string> {
  const rtts = [...out.matchAll(/time[=<]([\d.]+) ?ms/g)].map((m) => Number(m[1]));
  const received = Number(out.match(/(\d+) (?:packets )?received/)?.[1] ?? rtts.length);
  const addr = out.match(/^PING [^(]*\(([^)]+)\)/m)?.[1] ?? '';
  const avg = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : 0;
  return {
    Status: received > 0 ? 'Complete' : 'Error_Other',
    IPAddressUsed: addr,
    SuccessCount: String(received),
    FailureCount: String(Math.max(0, sent - received)),
    AverageResponseTime: String(Math.round(avg)),
    MinimumResponseTime: String(Math.round(rtts.length ? Math.min(...rtts) : 0)),
    MaximumResponseTime: String(Math.round(rtts.length ? Math.max(...rtts) : 0)),
    AverageResponseTimeDetailed: String(Math.round(avg * 1000)),
    MinimumResponseTimeDetailed: String(Math.round((rtts.length ? Math.min(...rtts) : 0) * 1000)),
    MaximumResponseTimeDetailed: String(Math.round((rtts.length ? Math.max(...rtts) : 0) * 1000)),
  };
}

export async function ipPing(input: Record<string, string>): Promise<Record<string, string>> {
  const host = input.Host;
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw new DmError('InvalidValue', `Host "${host}" is not a host name or address`);
  const count = Math.min(Number(input.NumberOfRepetitions || 1), 100);
  const timeoutS = Math.max(1, Math.ceil(Number(input.Timeout || 1000) / 1000));
  const [cmd, pre] = pingCommand();
  const args = [...pre, '-c', String(count), '-W', String(timeoutS), '-s', String(Number(input.DataBlockSize || 56))];
  if (input.ProtocolVersion === 'IPv6' || isIPv6(host)) args.push('-6');
  else if (input.ProtocolVersion === 'IPv4') args.push('-4');
  args.push(host);
  const out = await new Promise<string>((resolve) => {
    execFile(cmd, args, { timeout: (count * timeoutS + 5) * 1000 }, (_err, stdout, stderr) => resolve(`${stdout}\n${stderr}`));
  });
  if (/bad address|unknown host|Name or service not known/i.test(out)) return { ...parsePing('', count), Status: 'Error_CannotResolveHostName' };
  return parsePing(out, count);
}

export function registerCommands(dm: DataModel, hooks: UspHooks, onBoard: (controllerPath: string) => void): Disposable[] {
  const out: Disposable[] = [];
  // The device plug-in owns Reboot()/FactoryReset() when present; register them only if nobody did.
  if (!dm.hasCommand('Device.Reboot()'))
    out.push(dm.registerCommand('Device.Reboot()', () => { setImmediate(() => void hooks.reboot()); return {}; }));
  if (!dm.hasCommand('Device.FactoryReset()'))
    out.push(dm.registerCommand('Device.FactoryReset()', () => { setImmediate(() => void hooks.factoryReset()); return {}; }));
  out.push(dm.registerCommand('Device.IP.Diagnostics.IPPing()', ({ input }) => ipPing(input)));
  out.push(dm.registerCommand('Device.LocalAgent.Controller.{i}.SendOnBoardRequest()', ({ objectPath }) => {
    onBoard(objectPath);
    return {};
  }));
  return out;
}
