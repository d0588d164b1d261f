// A UDP probe at a steady rate for the failover tests and bench, as a LAN host would run one:
//   `udp.ts send HOST PORT PPS` sends seq + send time until SIGTERM and records each echoed reply, then prints
//     one "R seq sentAt backAt" line per reply and {"sent":N}; "S at skipped" when it was itself stalled;
//   `udp.ts recv PORT` echoes every datagram back to its source and, on SIGTERM, prints one
//     "seq sentAt recvAt source port" line per datagram (the source shows whether it was NATed, and by whom; the
//     port whether an lw4o6 gateway kept to its port set).
// What a LAN host sees is the round trip: a packet counts as delivered when its reply came back.
import { createSocket } from 'node:dgram';

const [mode, a, b, c] = process.argv.slice(2);
/** Packets the sender may owe before it counts itself stalled (50 ms at 1 kHz). */
const MAX_BEHIND = 50;

if (mode === 'send') {
  const s = createSocket('udp4');
  const pps = Number(c);
  const replies: string[] = [];
  s.on('message', (m) => {
    // The first reply tells the test that the probe is flowing end to end.
    if (!replies.length) console.log('up');
    replies.push(`R ${m.readUInt32BE(0)} ${m.readDoubleBE(4)} ${Date.now()}`);
  });
  s.on('error', () => undefined); // port unreachable while a path is down: the probe goes on
  let t0 = performance.now();
  let seq = 0;
  const tick = () => {
    // Catch up on every packet that is due (timers are coarse; the rate stays exact on average).
    let due = Math.floor(((performance.now() - t0) * pps) / 1000);
    // Far behind, the sender was itself stopped (the whole machine stalls now and then: flow.ts machineStalls):
    // it resumes the schedule from now instead of bursting what it owes, as a LAN host's application would. A
    // burst of 2,000 overflowed the socket buffers at both ends and was counted as packets lost on a return.
    // The stall is reported ("S at skipped"), so nothing is hidden.
    if (due - seq > MAX_BEHIND) {
      console.log(`S ${Date.now()} ${due - seq}`);
      t0 += ((due - seq) * 1000) / pps;
      due = seq;
    }
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
  process.on('SIGTERM', () => {
    clearInterval(timer);
    // Replies still in flight have 200 ms to arrive.
    setTimeout(() => {
      process.stdout.write(`${replies.join('\n')}\n${JSON.stringify({ sent: seq })}\n`, () => process.exit(0));
    }, 200);
  });
} else {
  const s = createSocket('udp4');
  const lines: string[] = [];
  s.on('message', (m, rinfo) => {
    lines.push(`${m.readUInt32BE(0)} ${m.readDoubleBE(4)} ${Date.now()} ${rinfo.address} ${rinfo.port}`);
    s.send(m, rinfo.port, rinfo.address);
  });
  s.on('error', () => undefined);
  s.bind(Number(a), () => console.log('ready'));
  process.on('SIGTERM', () => { process.stdout.write(`${lines.join('\n')}\nEND\n`, () => process.exit(0)); });
}
