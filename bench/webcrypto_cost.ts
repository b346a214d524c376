/**
 * What one AES-256-GCM seal costs through WebCrypto, the transport's only cipher: the fixed cost
 * of one awaited call on a small frame (each WebCrypto call is an async op served off the main
 * thread), and the bulk rate on a batched frame. References, measured in the same run: Deno's
 * synchronous `node:crypto` cipher on the small frame, and `openssl speed` on the big one.
 *
 *   deno run -A bench/webcrypto_cost.ts
 */
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { median } from "./_stats.ts";

const SMALL_BYTES = 100;
/** About one MessageConnection frame of 4096 hundred-byte messages. */
const BIG_BYTES = 409_600;
const ROUNDS = 7;

export async function benchWebcryptoCost(): Promise<BenchRow[]> {
  const keyBytes = crypto.getRandomValues(new Uint8Array(32));
  const iv = new Uint8Array(12);
  const key = await crypto.subtle.importKey("raw", keyBytes, "AES-GCM", false, ["encrypt"]);
  const webSeal = (data: Uint8Array<ArrayBuffer>) =>
    crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, data);
  const { createCipheriv } = await import("node:crypto");
  const nodeSeal = (data: Uint8Array) => {
    const cipher = createCipheriv("aes-256-gcm", keyBytes, iv);
    return [cipher.update(data), cipher.final(), cipher.getAuthTag()];
  };

  const small = new Uint8Array(SMALL_BYTES);
  const big = new Uint8Array(BIG_BYTES);
  const webSmallUs: number[] = [];
  const nodeSmallUs: number[] = [];
  const webBigUs: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const web = await usPerCall(2000, () => webSeal(small));
    const node = await usPerCall(2000, () => nodeSeal(small));
    const webBig = await usPerCall(50, () => webSeal(big));
    if (round === 0) continue; // warm-up
    webSmallUs.push(web);
    nodeSmallUs.push(node);
    webBigUs.push(webBig);
  }
  const webSmall = median(webSmallUs);
  const nodeSmall = median(nodeSmallUs);
  const webMBps = BIG_BYTES / median(webBigUs);
  const opensslMBps = await opensslAesGcmMBps(BIG_BYTES);
  return [
    {
      name: `webcrypto/aes-gcm-seal-${SMALL_BYTES}B`,
      figure: webSmall,
      unit: "µs/call",
      reference: nodeSmall,
      referenceLabel: "node:crypto (sync)",
      ratio: webSmall / nodeSmall,
      target: "",
    },
    {
      name: `webcrypto/aes-gcm-seal-${BIG_BYTES / 1024}KiB`,
      figure: webMBps,
      unit: "MB/s",
      reference: opensslMBps,
      referenceLabel: "openssl speed",
      ratio: opensslMBps === null ? null : webMBps / opensslMBps,
      target: "",
    },
  ];
}

async function usPerCall(calls: number, call: () => unknown): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < calls; i++) await call();
  return (performance.now() - start) * 1000 / calls;
}

/** One thread of `openssl speed -evp aes-256-gcm` on `bytes`-sized blocks, or null without it. */
async function opensslAesGcmMBps(bytes: number): Promise<number | null> {
  try {
    const output = await new Deno.Command("openssl", {
      args: ["speed", "-elapsed", "-seconds", "2", "-bytes", String(bytes), "-evp", "aes-256-gcm"],
      stdout: "piped",
      stderr: "null",
    }).output();
    // Last line: "AES-256-GCM   2190524.42k" (thousands of bytes per second).
    const last = new TextDecoder().decode(output.stdout).trim().split("\n").at(-1) ?? "";
    const match = last.match(/([\d.]+)k\s*$/);
    return output.success && match ? Number(match[1]) / 1000 : null;
  } catch {
    return null;
  }
}

if (import.meta.main) {
  console.log(formatTable(await benchWebcryptoCost()));
}
