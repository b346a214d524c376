/**
 * The few POSIX path operations we need. `node:path` would do, but importing it costs ~13 ms of
 * start-up in every CLI call (measured against a bare `deno run`), and clients must start fast.
 */

/** Joins path segments with `/` and normalizes the result. */
export function joinPath(...segments: string[]): string {
  return normalizePath(segments.filter((s) => s !== "").join("/"));
}

/** Resolves `path` against `base` (itself absolute) unless `path` is already absolute. */
export function resolvePath(base: string, path: string): string {
  return path.startsWith("/") ? normalizePath(path) : normalizePath(`${base}/${path}`);
}

/** A `//`, a `.` or `..` segment, or a trailing `/`: what `normalizePath` may change. */
const NOT_NORMAL = /\/\/|(^|\/)\.\.?(\/|$)|.\/$/;

/** Removes `.` segments, empty segments and resolves `..` lexically. */
export function normalizePath(path: string): string {
  // Most paths are normal already (the server checks several per submit).
  if (path.length > 1 && !NOT_NORMAL.test(path)) return path;
  const absolute = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!absolute) parts.push("..");
      continue;
    }
    parts.push(part);
  }
  const joined = parts.join("/");
  if (absolute) return `/${joined}`;
  return joined === "" ? "." : joined;
}

/** The parent directory of `path`. */
export function dirname(path: string): string {
  const normalized = normalizePath(path);
  const index = normalized.lastIndexOf("/");
  if (index < 0) return ".";
  return index === 0 ? "/" : normalized.slice(0, index);
}

/** The last segment of `path`. */
export function basename(path: string): string {
  const normalized = normalizePath(path);
  return normalized.slice(normalized.lastIndexOf("/") + 1);
}
