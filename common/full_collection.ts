/**
 * A full garbage collection, on demand. V8 keeps the pages of a grown heap after the objects in
 * them die; a full collection gives them back, as V8's own memory reducer would if the process
 * looked idle to it. Deno does not expose `gc()` without a flag, so it is enabled at run time
 * (the flag only adds the function).
 */

// Loaded when first needed: node:v8 and node:vm take 10–25 ms to load, a third of the server's
// start (bench/server_ready), which every process would pay for a collection few ever need. The
// specifiers are computed so that Deno does not load them with the module graph.
const NODE_V8 = "node:v8";
const NODE_VM = "node:vm";

let collect: (() => void) | null = null;

/** Collects now (once the loader is in, after its first call's short wait). Never throws. */
export async function fullCollection(): Promise<void> {
  try {
    if (collect === null) {
      const { setFlagsFromString } = await import(NODE_V8) as typeof import("node:v8");
      const { runInNewContext } = await import(NODE_VM) as typeof import("node:vm");
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc");
      // Without it (another runtime build) memory is simply given back later, by V8's own means.
      collect = typeof gc === "function" ? gc as () => void : () => {};
    }
    collect();
  } catch {
    collect = () => {};
  }
}
