// history.jsonl written while the run goes: records are buffered and appended in batches (at a
// size bound or a short interval), so a run that dies still leaves nearly all of its history.

import { closeSync, openSync, writeSync } from 'node:fs';
import { formatEntry, type HistoryEntry } from '../history.js';

const FLUSH_BYTES = 256 * 1024;
const FLUSH_MS = 250;

export class HistoryFile {
  private fd: number | undefined;
  private buf: string[] = [];
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  append(e: HistoryEntry): void {
    const line = formatEntry(e) + '\n';
    this.buf.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.fd === undefined || this.buf.length === 0) return;
    writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.bytes = 0;
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
