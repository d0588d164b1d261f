#!/usr/bin/env node
// `npm run build:addons` (and the `install` step of `npm install`/`npm ci`): the native addons
// build/Release/forwarder.node and netlink.node, from binding.gyp, only when needed.
//
// npm's default install step for a package with a binding.gyp is `node-gyp rebuild`, which deletes build/
// first: interrupted (Ctrl-C during an `npx` call), it left no addon at all. Here:
//  - build/Release/addons.stamp records a hash of binding.gyp and of every file under the addons' native/
//    directories (with the platform and architecture); when it matches and both addons load, nothing runs
//    (also in a packed copy elsewhere: the stamp is in the package);
//  - otherwise `node-gyp configure` (only when binding.gyp, the checkout's place or the Makefile changed) and
//    `node-gyp build`, i.e. make, which relinks only what changed and never deletes a working addon first;
//    node-gyp's Makefile writes each .node by a hard link (atomic) after the link step;
//  - the stamp is written last, after both addons loaded: an interrupted build is simply built again;
//  - an addon that does not load (truncated, wrong architecture) is removed with its link output and relinked;
//  - an installed package without the C++ sources only checks that the prebuilt addons load;
//  - `--force` (npm run build:addons -- --force): node-gyp clean, configure and build, whatever the stamp says.
// Headers come from `nodedir` (npm config, /usr here: no network for header downloads).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const release = join(root, 'build/Release');
const stampFile = join(release, 'addons.stamp');
const ADDONS = ['forwarder', 'netlink'];
const SOURCE_DIRS = ['src/forwarder/native', 'src/wan/native'];
const force = process.argv.includes('--force');

function files(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else out.push(p);
  }
  return out;
}

function hash(paths, extra) {
  const h = createHash('sha256').update(extra);
  for (const p of paths) h.update(relative(root, p)).update('\0').update(readFileSync(p)).update('\0');
  return h.digest('hex');
}

/**
 * The addons that do not load, with why (missing, truncated, wrong architecture...): each is opened in a child
 * process, so a file that crashes the loader (a truncated ELF raises SIGBUS) is found too, and a rebuilt file
 * is really opened again (a process keeps the first one it opened).
 */
function loadErrors() {
  const out = [];
  for (const name of ADDONS) {
    const file = join(release, `${name}.node`);
    const rel = relative(root, file);
    if (!existsSync(file)) {
      out.push({ name, missing: true, message: `${rel} is missing` });
      continue;
    }
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
    if (r.status === 0) continue;
    const why = r.signal ? `crashes the loader (${r.signal})` : `does not load: ${r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr.trim()}`;
    out.push({ name, missing: false, message: `${rel} ${why}` });
  }
  return out;
}

const messages = (errors) => errors.map((e) => e.message).join('; ');

function readStamp() {
  try {
    return JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch {
    return {};
  }
}

function nodeGyp() {
  // npm passes its bundled node-gyp to scripts; run directly, look beside this node's npm.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) fail('node-gyp not found (it comes with npm); run this through npm: npm run build:addons');
  return found;
}

function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const r = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' });
  const v = r.status === 0 ? r.stdout.trim() : '';
  return v && v !== 'undefined' && v !== 'null' ? v : undefined;
}

function fail(msg) {
  console.error(`build-addons: ${msg}`);
  process.exit(1);
}

function gyp(step, dir) {
  const args = [nodeGyp(), step, '--loglevel=warn', ...(dir ? [`--nodedir=${dir}`] : [])];
  console.log(`build-addons: node-gyp ${step}`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(`node-gyp ${step} failed (${r.status ?? r.signal}); the addons already built, if any, are unchanged`);
}

const sources = SOURCE_DIRS.flatMap((d) => files(join(root, d)));
const gypFile = join(root, 'binding.gyp');
if (sources.length === 0 || !existsSync(gypFile)) {
  // An installed package without the C++ sources: the prebuilt addons must do.
  const errors = loadErrors();
  if (errors.length) fail(`${messages(errors)}, and the C++ sources are not in this package to build them`);
  console.log('build-addons: prebuilt addons load');
  process.exit(0);
}

// `sources` decides whether the addons are current (the same files built anywhere make the same addon: a
// packed copy elsewhere is up to date); `gyp` and `root` whether node-gyp's Makefile must be made again.
const want = {
  sources: hash([gypFile, ...sources], `${process.platform}-${process.arch}`),
  gyp: hash([gypFile], ''),
  root,
};
const have = readStamp();
const errors = loadErrors();
if (!force && have.sources === want.sources && errors.length === 0) {
  console.log('build-addons: up to date');
  process.exit(0);
}
if (errors.length) console.log(`build-addons: ${messages(errors)}`);
// make trusts timestamps: a damaged output newer than its objects would be kept. Remove what does not load
// (and the link output it is a hard link of), so exactly that addon is linked again.
for (const e of errors.filter((x) => !x.missing)) {
  for (const f of [join(release, `${e.name}.node`), join(release, 'obj.target', `${e.name}.node`)]) rmSync(f, { force: true });
}

const dir = nodedir();
if (force) gyp('clean', dir);
if (force || have.gyp !== want.gyp || have.root !== root || !existsSync(join(root, 'build/Makefile')) || !existsSync(join(root, 'build/config.gypi'))) gyp('configure', dir);
gyp('build', dir);
const after = loadErrors();
if (after.length) fail(`built, but ${messages(after)}; try npm run build:addons -- --force`);
writeFileSync(stampFile, `${JSON.stringify(want)}\n`);
console.log('build-addons: built');
