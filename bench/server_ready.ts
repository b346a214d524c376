/**
 * Start-to-ready time of `hq server start`, as tools see it: they start the server and issue
 * their first command about 0.2 s later. Per round, a fresh server in a temporary directory is
 * spawned (`deno run -A main.ts server start`); `access-file` is the time until its
 * `hq-current/access.json` can be read (polled every 2 ms), `answers` until an in-process
 * client got its first `server info` answer (tried every 5 ms once the file is there). The
 * reference is an empty `deno run` to its exit, the floor of any process start. Rounds alternate
 * with that floor, so load from other processes on the machine spreads over both; medians.
 *
 *   deno run -A bench/server_ready.ts [--rounds 15]
 */
import { HqClient } from "../client/mod.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { median } from "./_stats.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TARGET_MS = 100;

export interface ServerReadyOptions {
  /** Measured rounds. @default {15} */
  rounds?: number;
}

export async function benchServerReady(options: ServerReadyOptions = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 15;
  const accessMs: number[] = [];
  const answersMs: number[] = [];
  const floorMs: number[] = [];
  for (let round = -2; round < rounds; round++) {
    const floor = await emptyProcessMs();
    const { access, answers } = await oneStart();
    if (round < 0) continue; // Warm-up: the module cache and the page cache.
    floorMs.push(floor);
    accessMs.push(access);
    answersMs.push(answers);
  }
  const floor = median(floorMs);
  const row = (name: string, values: number[], target: string): BenchRow => ({
    name: `server_ready/${name}`,
    figure: median(values),
    unit: "ms",
    reference: floor,
    referenceLabel: "empty deno run",
    ratio: median(values) / floor,
    target,
  });
  return [
    row("access-file", accessMs, ""),
    row("answers", answersMs, `<= ${TARGET_MS} ms`),
    { ...row("answers-max", answersMs, ""), figure: Math.max(...answersMs), ratio: null },
  ];
}

async function emptyProcessMs(): Promise<number> {
  const started = performance.now();
  await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${ROOT}bench/_startup/empty.ts`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return performance.now() - started;
}

/** One server start: milliseconds until the access file, and until the first answer. */
export async function oneStart(): Promise<{ access: number; answers: number }> {
  const serverDir = await Deno.makeTempDir({ prefix: "hq-bench-ready-" });
  const accessPath = `${serverDir}/hq-current/access.json`;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      `${ROOT}main.ts`,
      "server",
      "start",
      "--server-dir",
      serverDir,
      "--host",
      "127.0.0.1",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const deadline = Date.now() + 20_000;
    let access = 0;
    for (;;) {
      try {
        Deno.readFileSync(accessPath);
        access = performance.now() - started;
        break;
      } catch {
        if (Date.now() > deadline) throw new Error("The server wrote no access file");
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    for (;;) {
      try {
        const client = await HqClient.connect({ serverDir, timeoutMs: 2_000 });
        await client.serverInfo().finally(() => client.close());
        return { access, answers: performance.now() - started };
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
    await Deno.remove(serverDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--rounds");
  const rounds = at >= 0 ? Number(Deno.args[at + 1]) : undefined;
  console.log(formatTable(await benchServerReady({ rounds })));
}
