// The validators in src/generated/ are what tools/gen-validators.ts makes of today's schema/config/ and
// src/cli/protocol.ts: a schema changed without `npm run validators` fails here, not in the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate, OUT } from '../../tools/gen-validators.ts';

test('src/generated/ is up to date with the schemas (npm run validators)', () => {
  for (const [name, text] of Object.entries(generate())) {
    assert.equal(readFileSync(join(OUT, name), 'utf8'), text, `src/generated/${name} is stale: npm run validators`);
  }
});
