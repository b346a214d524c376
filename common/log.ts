/**
 * Logging to stderr in the spec's format: `<RFC 3339 UTC timestamp> <LEVEL> <message>`.
 * With `--debug` the timestamp has milliseconds and the module path is shown.
 */

export type LogLevel = "error" | "warn" | "info" | "debug";

const LEVEL_RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

let maxRank = LEVEL_RANK.info;
let debugFormat = false;
const encoder = new TextEncoder();

/** Sets the verbosity of every logger; `debug` also switches to the detailed line format. */
export function configureLogging(options: { debug: boolean }): void {
  debugFormat = options.debug;
  maxRank = options.debug ? LEVEL_RANK.debug : LEVEL_RANK.info;
}

export function isDebugEnabled(): boolean {
  return maxRank >= LEVEL_RANK.debug;
}

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string | (() => string)): void;
}

/** A logger for one module; `module` appears in debug output, e.g. `server::client_endpoint`. */
export function logger(module: string): Logger {
  return {
    error: (message) => write("error", module, message),
    warn: (message) => write("warn", module, message),
    info: (message) => write("info", module, message),
    debug: (message) => {
      if (maxRank < LEVEL_RANK.debug) return;
      write("debug", module, typeof message === "function" ? message() : message);
    },
  };
}

function write(level: LogLevel, module: string, message: string): void {
  if (LEVEL_RANK[level] > maxRank) return;
  const iso = new Date().toISOString(); // 2025-03-04T10:12:55.123Z
  const stamp = debugFormat ? iso : `${iso.slice(0, 19)}Z`;
  const head = debugFormat
    ? `${stamp} ${level.toUpperCase()} ${module}:`
    : `${stamp} ${level.toUpperCase()}`;
  const text = message.split("\n").map((line) => `${head} ${line}\n`).join("");
  try {
    writeAll(Deno.stderr, encoder.encode(text));
  } catch {
    // A closed stderr must not take the server down with it.
  }
}

function writeAll(file: typeof Deno.stderr, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}
