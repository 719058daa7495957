import type { Component } from '../model/component.js';

export type LifecycleLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/**
 * Starts the parts in order. When one fails, the ones already started (and the one that failed, whose stop is safe
 * after a failed start) are stopped in reverse and the error is rethrown: a failed start leaves nothing open.
 * Returns the function that stops them all in reverse; it is idempotent and never rejects.
 */
export async function startAll(parts: readonly Component[], log: LifecycleLog): Promise<() => Promise<void>> {
  const started: Component[] = [];
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      for (const part of started.reverse()) {
        try {
          await part.stop();
        } catch (err) {
          log('error', `stopping ${part.name} failed`, { err: String(err) });
        }
      }
    })());
  for (const part of parts) {
    started.push(part);
    try {
      await part.start?.();
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return stop;
}
