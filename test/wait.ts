// Polling helpers shared by the tests.
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it yields a value; fails after `timeoutMs`, naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`);
    await sleep(everyMs);
  }
}

/** Polls the synchronous `fn` until it is truthy; fails after `ms`, naming `what`. */
export async function until(fn: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  await waitFor(what, async () => fn(), ms, 5);
}
