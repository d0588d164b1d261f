// Runs src/wan/netlink.ts calls inside a network namespace for test/wan/netlink.test.ts: argv[2] is a JSON
// array of [function, argument] pairs, run in order; stdout one JSON array with each call's result or error.
import * as netlink from '../../src/wan/netlink.ts';

type Op = [keyof typeof netlink, unknown];
const results = (JSON.parse(process.argv[2]) as Op[]).map(([fn, arg]) => {
  try {
    return { ok: true, value: (netlink[fn] as (a: unknown) => unknown)(arg) ?? null };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { ok: false, name: err.name, code: err.code ?? null, message: err.message };
  }
});
process.stdout.write(JSON.stringify(results));
