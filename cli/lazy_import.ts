/**
 * Loads a command's implementation only when that command runs. The specifier is computed on
 * purpose: Deno fetches and compiles the graph of every literal `import("./x.ts")` at start-up,
 * even one that never runs (measured: `--version` went from 1.24x to 1.5x of a bare `deno run`
 * when the worker commands landed). `deno task compile` lists these modules with `--include`.
 */
export function lazyImport<T>(path: string): Promise<T> {
  return import(new URL(path, import.meta.url).href) as Promise<T>;
}
