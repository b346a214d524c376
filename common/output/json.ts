/**
 * JSON for `--output-mode json`: pretty-printed with 2-space indent and object keys sorted at
 * every level (spec §8.1). Durations print as floats (`8.0`) through `JsonFloat`, as HyperQueue's
 * serde output does.
 */

/** A number that must print with a fractional part, e.g. seconds of a duration. */
export class JsonFloat {
  constructor(readonly value: number) {}
}

/** Seconds as a float for JSON, from milliseconds; `null` stays `null`. */
export function jsonSeconds(ms: number | null | undefined): JsonFloat | null {
  return ms === null || ms === undefined ? null : new JsonFloat(ms / 1000);
}

export function toSortedJson(value: unknown): string {
  return write(value, "");
}

function write(value: unknown, indent: string): string {
  if (value === null || value === undefined) return "null";
  if (value instanceof JsonFloat) {
    if (!Number.isFinite(value.value)) return "null";
    const text = String(value.value);
    return /[.eE]/.test(text) ? text : `${text}.0`;
  }
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "string" || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "bigint") return value.toString();
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((item) => inner + write(item, inner)).join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length === 0) return "{}";
    const body = entries
      .map(([key, item]) => `${inner}${JSON.stringify(key)}: ${write(item, inner)}`)
      .join(",\n");
    return `{\n${body}\n${indent}}`;
  }
  return "null";
}
