import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/** One /proc file kept open. `read()` fills the shared buffer of its ProcFiles and returns the byte count, or -1. */
export interface ProcHandle {
  readonly path: string;
  read(): number;
  close(): void;
}

/**
 * Re-reads small /proc files through file descriptors kept open: `readSync` at offset 0 on a cached fd costs about
 * 4 µs per file here, against 15 µs for `readFileSync` and 220 µs for `fs.promises` (shared/reference/peer-figures.md).
 * A read that fails (ESRCH once the process is gone, ENOENT) closes the fd. Synchronous by design: each read is a few
 * microseconds and the caller bounds how many it does per tick. Not for files larger than the buffer (64 KiB).
 */
export class ProcFiles {
  readonly buffer: Buffer;
  #open = new Set<Handle>();

  constructor(opts: { bufferBytes?: number } = {}) {
    this.buffer = Buffer.allocUnsafe(opts.bufferBytes ?? 64 * 1024);
  }

  /** Opens `path` (lazily: the first read opens it). */
  handle(path: string): ProcHandle {
    return new Handle(path, this);
  }

  /** The current text behind a handle (falls back to a full read for files larger than the buffer), or null. */
  text(h: ProcHandle): string | null {
    const n = h.read();
    if (n < 0) return null;
    if (n < this.buffer.length) return this.buffer.toString('latin1', 0, n);
    return this.readText(h.path);
  }

  /** The file's current text, or null when it cannot be read. For callers off the hot path. */
  readText(path: string): string | null {
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return null;
    }
  }

  get size(): number {
    return this.#open.size;
  }

  /** @internal */
  track(h: Handle, isOpen: boolean): void {
    if (isOpen) this.#open.add(h);
    else this.#open.delete(h);
  }

  closeAll(): void {
    for (const h of [...this.#open]) h.close();
  }
}

class Handle implements ProcHandle {
  readonly path: string;
  #fd = -1;
  #files: ProcFiles;
  #dead = false;

  constructor(path: string, files: ProcFiles) {
    this.path = path;
    this.#files = files;
  }

  read(): number {
    if (this.#dead) return -1;
    try {
      if (this.#fd < 0) {
        this.#fd = openSync(this.path, 'r');
        this.#files.track(this, true);
      }
      const buf = this.#files.buffer;
      return readSync(this.#fd, buf, 0, buf.length, 0);
    } catch {
      this.close();
      this.#dead = true;
      return -1;
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    try {
      closeSync(this.#fd);
    } catch {
      /* already closed */
    }
    this.#fd = -1;
    this.#files.track(this, false);
  }
}
