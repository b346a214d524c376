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

/**
 * An array whose items are made only as they are written: `job info` of a 1,000,000-task job
 * would otherwise build a million task objects and one 260 MB string before printing anything.
 */
export class JsonLazyArray {
  constructor(readonly length: number, readonly item: (index: number) => unknown) {}
}

/**
 * An array whose items come as finished JSON text, each at `indent` (the array's items' own
 * indentation, for the lines after their first): `job info` renders a million tasks from columns
 * this way, without an object and a key sort per task.
 */
export class JsonTextArray {
  constructor(readonly length: number, readonly text: (index: number, indent: string) => string) {}
}

/** `indent`: of the value's own lines after its first, as inside an array or object. */
export function toSortedJson(value: unknown, indent = ""): string {
  const parts: string[] = [];
  write(value, indent, (text) => parts.push(text));
  return parts.join("");
}

/** Writes `value` as `toSortedJson` would, handing `emit` pieces of at least `chunk` chars. */
export function writeSortedJson(
  value: unknown,
  emit: (text: string) => void,
  chunk = 16 * 1024,
): void {
  let buffer = "";
  write(value, "", (text) => {
    buffer += text;
    if (buffer.length >= chunk) {
      emit(buffer);
      buffer = "";
    }
  });
  if (buffer !== "") emit(buffer);
}

function write(value: unknown, indent: string, out: (text: string) => void): void {
  if (value === null || value === undefined) return out("null");
  if (value instanceof JsonFloat) {
    if (!Number.isFinite(value.value)) return out("null");
    const text = String(value.value);
    return out(/[.eE]/.test(text) ? text : `${text}.0`);
  }
  if (typeof value === "number") return out(Number.isFinite(value) ? String(value) : "null");
  if (typeof value === "string" || typeof value === "boolean") return out(JSON.stringify(value));
  if (typeof value === "bigint") return out(value.toString());
  const inner = indent + "  ";
  if (value instanceof JsonTextArray) {
    const length = value.length;
    if (length === 0) return out("[]");
    out("[\n");
    for (let i = 0; i < length; i++) {
      out(inner);
      out(value.text(i, inner));
      out(i + 1 < length ? ",\n" : "\n");
    }
    return out(`${indent}]`);
  }
  if (Array.isArray(value) || value instanceof JsonLazyArray) {
    const length = value.length;
    if (length === 0) return out("[]");
    const itemAt = Array.isArray(value) ? (i: number) => value[i] : value.item;
    out("[\n");
    for (let i = 0; i < length; i++) {
      out(inner);
      write(itemAt(i), inner, out);
      out(i + 1 < length ? ",\n" : "\n");
    }
    return out(`${indent}]`);
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (entries.length === 0) return out("{}");
    out("{\n");
    entries.forEach(([key, item], i) => {
      out(`${inner}${JSON.stringify(key)}: `);
      write(item, inner, out);
      out(i + 1 < entries.length ? ",\n" : "\n");
    });
    return out(`${indent}}`);
  }
  out("null");
}
