// Parsers for command-line arguments shared by the subcommands: a bad value becomes commander's
// InvalidArgumentError, so it is reported as "keelson: option '--x' argument 'y' is invalid. ..."
// with a non-zero exit.

import { InvalidArgumentError } from 'commander';
import { parseUrls } from '../store/server/peer-url.js';

/** A whole number in [min, max]. */
export function intArg(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** A whole number above 0. */
export function positiveIntArg(flag: string): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) <= 0) throw new InvalidArgumentError(`${flag} must be a positive whole number, got "${v}"`);
    return Number(v);
  };
}

/** A comma-separated list of http://host:port URLs. */
export function urlListArg(flag: string): (v: string) => string[] {
  return (v: string) => {
    try {
      return parseUrls(v, flag);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}
