/**
 * Writing results to stdout. Client commands end quietly when the reader went away
 * (`hq worker list | head -1`); long-running commands keep running instead.
 */

export type BrokenPipePolicy = "exit" | "ignore";

let brokenPipePolicy: BrokenPipePolicy = "exit";
const encoder = new TextEncoder();

/** Long-running commands (`server start`, `worker start`) set `ignore` before printing. */
export function setBrokenPipePolicy(policy: BrokenPipePolicy): void {
  brokenPipePolicy = policy;
}

export function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    if (brokenPipePolicy === "exit") Deno.exit(0);
  }
}
