/**
 * Loads a command's implementation only when that command runs. The specifier is computed on
 * purpose: Deno fetches and compiles the graph of every literal `import("./x.ts")` at start-up,
 * even one that never runs (measured: `--version` went from 1.24x to 1.5x of a bare `deno run`
 * when the worker commands landed). `deno task compile` lists these modules with `--include`.
 *
 * The bundled entry (`cli/hq.ts`, `deno task bundle`) registers a literal `import()` per module
 * instead: the bundler turns each into a chunk, and a chunk of plain JavaScript costs little to
 * load, where a computed specifier would load the unbundled sources beside the bundle.
 */
type Loader = () => Promise<unknown>;
let bundledLoaders: Record<string, Loader> | null = null;

/** Called by the bundled entry before anything runs: paths as passed to `lazyImport`. */
export function registerBundledModules(loaders: Record<string, Loader>): void {
  bundledLoaders = loaders;
}

/** `path` is relative to `cli/`. */
export function lazyImport<T>(path: string): Promise<T> {
  if (bundledLoaders !== null) {
    const load = bundledLoaders[path];
    // Loading the source instead would duplicate modules, and their classes, beside the bundle.
    if (load === undefined) throw new Error(`The bundled entry cli/hq.ts does not list "${path}"`);
    return load() as Promise<T>;
  }
  return import(new URL(path, import.meta.url).href) as Promise<T>;
}
