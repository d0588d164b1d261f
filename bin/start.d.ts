// Types of bin/start.js for the TypeScript benches and tests (the start path itself stays plain JavaScript).
export const MAIN: string;
export const NODE_FLAGS: readonly string[];
export function start(args: string[]): Promise<void>;
