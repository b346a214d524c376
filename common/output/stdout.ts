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

/** Reused for the bytes of each write: `job info` of a million tasks writes 360 MB in pieces. */
let scratch = new Uint8Array(0);

export function writeStdout(text: string): void {
  // At most 3 bytes a UTF-16 unit; larger texts get their own buffer.
  if (text.length * 3 > scratch.length && text.length <= 64 * 1024) {
    scratch = new Uint8Array(64 * 1024 * 3);
  }
  const bytes = text.length * 3 <= scratch.length
    ? scratch.subarray(0, encoder.encodeInto(text, scratch).written)
    : encoder.encode(text);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    if (brokenPipePolicy === "exit") Deno.exit(0);
  }
}
