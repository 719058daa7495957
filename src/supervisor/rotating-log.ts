import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';

export interface RotatingLogOptions {
  file: string;
  maxBytes: number;
  /** Rotated files kept: file.1 … file.N. */
  maxFiles: number;
  /** Bytes waiting for the disk beyond which new output is dropped rather than buffered. */
  maxPendingBytes?: number;
  /** Called with the number of bytes dropped, for the dropped-samples counter. */
  onDrop?: (bytes: number) => void;
}

/**
 * An append-only log file that rotates at a size (file → file.1 → … → file.N, the oldest removed). Writes are queued
 * and written asynchronously; past `maxPendingBytes` waiting, output is dropped and counted, so a chatty plugin can
 * neither block perfwatch nor grow its memory.
 */
export class RotatingLog {
  #opts: Required<Omit<RotatingLogOptions, 'onDrop'>> & Pick<RotatingLogOptions, 'onDrop'>;
  #fh: FileHandle | null = null;
  #size = 0;
  #queue: Buffer[] = [];
  #pending = 0;
  #draining: Promise<void> | null = null;
  #closed = false;

  constructor(opts: RotatingLogOptions) {
    this.#opts = { maxPendingBytes: 1024 * 1024, ...opts };
  }

  write(chunk: Buffer): void {
    if (this.#closed) return;
    if (this.#pending + chunk.length > this.#opts.maxPendingBytes) {
      this.#opts.onDrop?.(chunk.length);
      return;
    }
    this.#queue.push(chunk);
    this.#pending += chunk.length;
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const chunk = this.#queue.shift()!;
      try {
        if (!this.#fh) await this.#openFile();
        if (this.#size > 0 && this.#size + chunk.length > this.#opts.maxBytes) await this.#rotate();
        await this.#fh!.write(chunk);
        this.#size += chunk.length;
      } catch {
        this.#opts.onDrop?.(chunk.length);
      } finally {
        this.#pending -= chunk.length;
      }
    }
  }

  async #openFile(): Promise<void> {
    this.#fh = await open(this.#opts.file, 'a', 0o640);
    this.#size = (await stat(this.#opts.file)).size;
  }

  async #rotate(): Promise<void> {
    await this.#fh?.close();
    this.#fh = null;
    const f = this.#opts.file;
    await rm(`${f}.${this.#opts.maxFiles}`, { force: true });
    for (let i = this.#opts.maxFiles - 1; i >= 1; i--) {
      await rename(`${f}.${i}`, `${f}.${i + 1}`).catch(() => undefined);
    }
    await rename(f, `${f}.1`);
    await this.#openFile();
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
    await this.#fh?.close();
    this.#fh = null;
  }
}
