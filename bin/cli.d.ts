// Types of bin/cli.js for the TypeScript tests (the client itself stays plain JavaScript).
export const USAGE: string;
export class UsageError extends Error {}
export function parseArgs(argv: string[], env?: Record<string, string | undefined>): { socket: string; help: boolean; words: string[] };
export function buildRequest(words: string[]): { id: number; cmd: string; [field: string]: unknown };
export function format(req: { cmd: string }, result: unknown): string;
export function request(socket: string, req: object, timeoutMs?: number): Promise<{ ok: true; result: unknown } | { ok: false; error: { kind: string; message: string } }>;
export function main(argv: string[]): Promise<number>;
