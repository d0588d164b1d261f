// Subscriptions return a disposer (like vscode's Event/IDisposable): a plug-in's stop() disposes them.

export interface Disposable {
  dispose(): void;
}

/** Synchronous fan-out to listeners; one failing listener does not stop the others. */
export class Emitter<T> {
  private readonly listeners = new Set<(v: T) => void>();

  constructor(private readonly onError: (err: unknown) => void = (err) => queueMicrotask(() => { throw err; })) {}

  on(listener: (v: T) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}

/** Collects disposables and disposes them together, last first. */
export class DisposableStore implements Disposable {
  private items: Disposable[] = [];

  add<D extends Disposable>(d: D): D {
    this.items.push(d);
    return d;
  }

  dispose(): void {
    const items = this.items.reverse();
    this.items = [];
    for (const d of items) d.dispose();
  }
}
