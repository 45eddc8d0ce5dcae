// Progress while a benchmark runs, on stderr: a line rewritten in place on a terminal, a line
// every few seconds otherwise (CI logs), and a permanent line per finished step.

export interface Progress {
  /** A status that replaces the previous one. */
  status(line: string): void;
  /** A line that stays. */
  note(line: string): void;
  done(): void;
}

const NON_TTY_STATUS_MS = 5000;

export function stderrProgress(): Progress {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  let lastStatus = 0;
  const clear = () => {
    if (tty && shown) process.stderr.write('\r\x1b[K');
    shown = false;
  };
  return {
    status(line) {
      if (tty) {
        process.stderr.write(`\r\x1b[K${line}`);
        shown = true;
      } else if (Date.now() - lastStatus >= NON_TTY_STATUS_MS) {
        lastStatus = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
    note(line) {
      clear();
      process.stderr.write(`${line}\n`);
    },
    done() {
      clear();
    },
  };
}

export const silentProgress: Progress = { status() {}, note() {}, done() {} };
