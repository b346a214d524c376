/** Parsers for option values; each throws an `Error` whose message is the detail of the usage error. */
import { DurationParseError, parseDuration, parseHumantime } from "../common/duration.ts";

/** A TCP port, `0`–`65535`. */
export function parsePort(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new Error("invalid digit found in string");
  const port = Number(raw);
  if (port > 65535) throw new Error(`${raw} is not in 0..=65535`);
  return port;
}

/** A duration in the clock or humantime form (spec §7); milliseconds. */
export function parseDurationArg(raw: string): number {
  try {
    return parseDuration(raw);
  } catch (error) {
    if (!(error instanceof DurationParseError)) throw error;
    throw new Error(
      `Could not parse PBS walltime. Use either \`HH:MM:SS\` or humantime format (2hours): ${error.message}`,
    );
  }
}

/** A duration in the humantime form only (`--overview-interval`); milliseconds. */
export function parseHumantimeArg(raw: string): number {
  return parseHumantime(raw);
}
