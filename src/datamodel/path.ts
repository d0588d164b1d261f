// Paths are values: a path string is parsed once, at the wire edge, into an immutable Path.
//
// Grammar (TR-106 §3.1 naming, TR-069 §A.3.2.1 partial paths, TR-069 Appendix II alias-based addressing,
// TR-369 §2.5 path names, search paths and reference following):
//   path     = segment *("." segment) ["."]          a trailing "." makes it a partial (object) path
//   segment  = name | name "()" | name "!"          parameter/object, command, event
//            | 1*DIGIT | "{i}" | "*"                 instance number, schema placeholder, wildcard
//            | "[" alias "]"                         CWMP alias-based addressing
//            | "[" expr "]"                          USP search expression (has an operator)
//            | name "+"                              USP reference following
//   expr     = rel *("&&" rel);  rel = relpath op literal;  op = "==" | "!=" | "<" | ">" | "<=" | ">="
import { DmError } from './errors.ts';

export type CompareOp = '==' | '!=' | '<' | '>' | '<=' | '>=';
export interface SearchTerm {
  /** Relative parameter path inside the instance, e.g. ["Stats", "BytesSent"]. */
  readonly param: readonly string[];
  readonly op: CompareOp;
  readonly value: string;
}

export type Segment =
  | { readonly k: 'name'; readonly name: string }
  | { readonly k: 'index'; readonly n: number }
  | { readonly k: 'placeholder' }
  | { readonly k: 'wildcard' }
  | { readonly k: 'alias'; readonly alias: string }
  | { readonly k: 'search'; readonly terms: readonly SearchTerm[]; readonly text: string }
  | { readonly k: 'ref'; readonly name: string };

/** A schema path: instance numbers replaced by "{i}", e.g. "Device.IP.Interface.{i}.Enable". */
export type SchemaPath = string & { readonly __schemaPath: unique symbol };

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*(\(\)|!)?$/;
const OPS: CompareOp[] = ['==', '!=', '<=', '>=', '<', '>'];

function bad(text: string, why: string): never {
  throw new DmError('InvalidArgument', `invalid path "${text}": ${why}`, [], text);
}

/** Splits on "." outside brackets and quotes. */
function split(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  let quote = false;
  for (const ch of text) {
    if (quote) {
      if (ch === '"') quote = false;
      cur += ch;
    } else if (ch === '"') {
      quote = true;
      cur += ch;
    } else if (ch === '[') {
      depth++;
      cur += ch;
    } else if (ch === ']') {
      depth--;
      cur += ch;
    } else if (ch === '.' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quote || depth !== 0) bad(text, 'unbalanced brackets or quotes');
  parts.push(cur);
  return parts;
}

function parseTerm(full: string, rel: string): SearchTerm {
  let inQuote = false;
  for (let i = 0; i < rel.length; i++) {
    if (rel[i] === '"') inQuote = !inQuote;
    if (inQuote) continue;
    const op = OPS.find((o) => rel.startsWith(o, i));
    if (!op) continue;
    const lhs = rel.slice(0, i).trim();
    let rhs = rel.slice(i + op.length).trim();
    const param = lhs.split('.');
    if (!param.every((p) => /^[A-Za-z_][A-Za-z0-9_-]*$/.test(p))) bad(full, `bad parameter "${lhs}" in search`);
    if (rhs.startsWith('"')) {
      if (!rhs.endsWith('"') || rhs.length < 2) bad(full, 'unterminated string in search');
      rhs = rhs.slice(1, -1);
    } else if (!/^[^"\s&|]+$/.test(rhs)) bad(full, `bad literal "${rhs}" in search`);
    return { param, op, value: rhs };
  }
  return bad(full, `no operator in search term "${rel}"`);
}

function parseSegment(full: string, s: string): Segment {
  if (s === '') bad(full, 'empty segment');
  if (s === '*') return { k: 'wildcard' };
  if (s === '{i}') return { k: 'placeholder' };
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 0xffffffff || s.startsWith('0')) bad(full, `bad instance number ${s}`);
    return { k: 'index', n };
  }
  if (s.startsWith('[') && s.endsWith(']')) {
    const inner = s.slice(1, -1);
    if (/==|!=|<|>/.test(inner)) {
      const terms: SearchTerm[] = [];
      let rest = inner;
      // "&&" only: USP 1.x search expressions have no "||" (TR-369 §2.5.3).
      for (const part of splitAnd(full, rest)) terms.push(parseTerm(full, part));
      rest = '';
      return { k: 'search', terms, text: inner };
    }
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(inner)) bad(full, `bad alias "${inner}"`);
    return { k: 'alias', alias: inner };
  }
  if (s.endsWith('+')) {
    const name = s.slice(0, -1);
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) bad(full, `bad reference segment "${s}"`);
    return { k: 'ref', name };
  }
  if (!NAME.test(s)) bad(full, `bad name "${s}"`);
  return { k: 'name', name: s };
}

function splitAnd(full: string, expr: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (ch === '"') quote = !quote;
    if (!quote && expr.startsWith('&&', i)) {
      out.push(cur);
      cur = '';
      i++;
      continue;
    }
    if (!quote && expr.startsWith('||', i)) bad(full, '"||" is not allowed in a search expression');
    cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim());
}

const segmentText = (s: Segment): string => {
  switch (s.k) {
    case 'name': return s.name;
    case 'index': return String(s.n);
    case 'placeholder': return '{i}';
    case 'wildcard': return '*';
    case 'alias': return `[${s.alias}]`;
    case 'search': return `[${s.text}]`;
    case 'ref': return `${s.name}+`;
  }
};

export class Path {
  private constructor(
    readonly segments: readonly Segment[],
    /** True for a partial path (ends with "."): it names an object and everything below it. */
    readonly partial: boolean,
  ) {
    Object.freeze(this);
  }

  static readonly root = new Path([], true);

  static parse(text: string): Path {
    if (typeof text !== 'string') bad(String(text), 'not a string');
    if (text === '') return Path.root; // CWMP: "" is the whole tree (TR-069 A.3.2.1)
    const partial = text.endsWith('.');
    const parts = split(partial ? text.slice(0, -1) : text);
    const segments = parts.map((p) => parseSegment(text, p));
    if (segments[0].k !== 'name') bad(text, 'must start with a name');
    const last = segments[segments.length - 1];
    if (partial && last.k === 'name' && /[(!]/.test(last.name)) bad(text, 'a command or event has no trailing "."');
    return new Path(segments, partial);
  }

  static of(segments: readonly Segment[], partial: boolean): Path {
    return new Path([...segments], partial);
  }

  /** Only names and instance numbers: it names exactly one node. */
  get isConcrete(): boolean {
    return this.segments.every((s) => s.k === 'name' || s.k === 'index');
  }

  get last(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }

  get length(): number {
    return this.segments.length;
  }

  /** Instance numbers, wildcards, aliases and searches become "{i}". */
  get schemaPath(): SchemaPath {
    let s = this.segments
      .map((seg) => (seg.k === 'name' ? seg.name : seg.k === 'ref' ? seg.name : '{i}'))
      .join('.');
    if (this.partial && s !== '') s += '.';
    return s as SchemaPath;
  }

  child(seg: string | number): Path {
    const s: Segment = typeof seg === 'number' ? { k: 'index', n: seg } : parseSegment(seg, seg);
    return new Path([...this.segments, s], this.partial);
  }

  /** This path as an object path (trailing "."). */
  asObject(): Path {
    return this.partial ? this : new Path(this.segments, true);
  }

  asParam(): Path {
    return this.partial ? new Path(this.segments, false) : this;
  }

  /** The object containing this node (an instance object for a parameter of a table row). */
  parent(): Path {
    return new Path(this.segments.slice(0, -1), true);
  }

  slice(start: number, end?: number): Path {
    return new Path(this.segments.slice(start, end), true);
  }

  startsWith(prefix: Path): boolean {
    if (prefix.segments.length > this.segments.length) return false;
    return prefix.segments.every((s, i) => segmentText(s) === segmentText(this.segments[i]));
  }

  equals(other: Path): boolean {
    return this.toString() === other.toString();
  }

  toString(): string {
    const s = this.segments.map(segmentText).join('.');
    return this.partial && s !== '' ? `${s}.` : s;
  }
}

/** Schema-path helpers: a schema path is data (a key into the schema), not a parsed Path. */
export function toSchemaPath(text: string): SchemaPath {
  return Path.parse(text).schemaPath;
}
