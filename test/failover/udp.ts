// UDP at a steady rate for the failover bench: `udp.ts send HOST PORT PPS` sends seq + send time until
// SIGTERM, then prints {"sent":N}; `udp.ts recv PORT` prints one "seq sentAt recvAt source" line per
// packet when it gets SIGTERM.
import { createSocket } from 'node:dgram';

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'send') {
  const s = createSocket('udp4');
  const pps = Number(c);
  const t0 = performance.now();
  let seq = 0;
  const tick = () => {
    // Catch up on every packet that is due (timers are coarse; the rate stays exact on average).
    const due = Math.floor(((performance.now() - t0) * pps) / 1000);
    while (seq < due) {
      // A fresh buffer per packet: dgram.send may queue it, and a reused buffer would be rewritten before it
      // leaves, sending one sequence number twice and another never (it looked like 15-20 % loss).
      const buf = Buffer.alloc(64);
      buf.writeUInt32BE(seq++, 0);
      buf.writeDoubleBE(Date.now(), 4);
      s.send(buf, Number(b), a);
    }
  };
  const timer = setInterval(tick, 1);
  process.on('SIGTERM', () => { clearInterval(timer); console.log(JSON.stringify({ sent: seq })); setTimeout(() => s.close(), 100); });
} else {
  const s = createSocket('udp4');
  const lines: string[] = [];
  s.on('message', (m, rinfo) => lines.push(`${m.readUInt32BE(0)} ${m.readDoubleBE(4)} ${Date.now()} ${rinfo.address}`));
  s.bind(Number(a), () => console.log('ready'));
  process.on('SIGTERM', () => { process.stdout.write(`${lines.join('\n')}\nEND\n`, () => process.exit(0)); });
}
