/**
 * Wall time of whole `deno run -A …` processes, as a user or a script calling `hq` sees it: the
 * floor (an empty file), `main.ts --version`, `main.ts server info` and `main.ts worker list`
 * against a live server, and files that import one dependency each. Two more probes show start
 * costs found on the way: the first `setTimeout`, and a literal dynamic import that never runs.
 * All commands run in interleaved rounds, the order rotating each round, so that load from other
 * processes spreads over all of them; figures are medians. Timed with `Deno.Command` rather than
 * hyperfine, which runs each command's runs in one block and so cannot interleave.
 *
 * The `bundle-*` rows run the same commands through the bundled entry (`deno task bundle`, built
 * into a temporary directory at the start).
 *
 * Each round also runs `server info` under bench/_startup/server_info_timeline.ts, which
 * timestamps each step in-process: the breakdown rows, in ms, with their share of that probe's
 * median wall time.
 *
 *   deno run -A bench/cold_start.ts [--rounds 25]
 */
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { median } from "./_stats.ts";

export interface ColdStartOptions {
  /** Measured rounds; each runs every command once. @default {25} */
  rounds?: number;
}

interface Probe {
  key: string;
  args: string[];
  target: string;
}

interface Timeline {
  phases: Array<[string, string, number]>;
  timeOriginMs: number;
  endMs: number;
  firstCalls: Array<[string, number]>;
  crypto: Array<[string, number]>;
}

const ROOT = new URL("../", import.meta.url).pathname;
const STARTUP = `${ROOT}bench/_startup/`;
const WARMUP_ROUNDS = 3;
const TIMELINE_PREFIX = "TIMELINE ";

export async function benchColdStart(options: ColdStartOptions = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 25;
  await using server = await startLiveServer();
  // The bundled entry (`deno task bundle`), built fresh into a temporary directory for this run.
  const bundleDir = await Deno.makeTempDir({ prefix: "hq-bench-bundle-" });
  await using _removeBundle = {
    [Symbol.asyncDispose]: () => Deno.remove(bundleDir, { recursive: true }),
  };
  await buildBundle(bundleDir);
  const bundle = `${bundleDir}/hq.js`;
  const floor: Probe = { key: "empty-file", args: [`${STARTUP}empty.ts`], target: "" };
  const timelineProbe: Probe = {
    key: "server-info-timeline",
    args: [`${STARTUP}server_info_timeline.ts`, server.serverDir],
    target: "",
  };
  const probes: Probe[] = [
    floor,
    { key: "hq-version", args: [`${ROOT}main.ts`, "--version"], target: "<= 2x" },
    {
      key: "hq-server-info",
      args: [`${ROOT}main.ts`, "server", "info", "--server-dir", server.serverDir],
      target: "<= 2x",
    },
    {
      key: "hq-worker-list",
      args: [`${ROOT}main.ts`, "worker", "list", "--server-dir", server.serverDir],
      target: "<= 2x",
    },
    { key: "bundle-version", args: [bundle, "--version"], target: "<= 2x" },
    {
      key: "bundle-server-info",
      args: [bundle, "server", "info", "--server-dir", server.serverDir],
      target: "<= 2x",
    },
    {
      key: "bundle-worker-list",
      args: [bundle, "worker", "list", "--server-dir", server.serverDir],
      target: "<= 2x",
    },
    { key: "import-common-msgpack", args: [`${STARTUP}common_msgpack.ts`], target: "" },
    { key: "import-client-mod", args: [`${STARTUP}client_mod.ts`], target: "" },
    { key: "import-cli-run-cli", args: [`${STARTUP}run_cli.ts`], target: "" },
    { key: "first-setTimeout", args: [`${STARTUP}set_timeout.ts`], target: "" },
    { key: "unrun-dynamic-import-server", args: [`${STARTUP}unrun_dynamic_import.ts`], target: "" },
    timelineProbe,
  ];
  for (const probe of probes) await runOnce(probe.args, { check: true });

  const wallMs = new Map<Probe, number[]>(probes.map((probe) => [probe, []]));
  const timelines: Array<{ spawnAtMs: number; exitedAtMs: number; timeline: Timeline }> = [];
  for (let round = 0; round < WARMUP_ROUNDS + rounds; round++) {
    for (let i = 0; i < probes.length; i++) {
      const probe = probes[(round + i) % probes.length];
      const run = await runOnce(probe.args, { stderr: probe === timelineProbe });
      if (round < WARMUP_ROUNDS) continue;
      wallMs.get(probe)!.push(run.exitedAtMs - run.spawnAtMs);
      if (probe === timelineProbe) timelines.push({ ...run, timeline: parseTimeline(run.stderr) });
    }
  }
  const floorMs = median(wallMs.get(floor)!);
  const rows: BenchRow[] = probes.filter((probe) => probe !== floor && probe !== timelineProbe)
    .map((probe) => {
      const figure = median(wallMs.get(probe)!);
      return {
        name: `cold_start/${probe.key}`,
        figure,
        unit: "ms",
        reference: floorMs,
        referenceLabel: "empty file",
        ratio: figure / floorMs,
        target: probe.target,
      };
    });
  return [...rows, ...breakdownRows(timelines, median(wallMs.get(timelineProbe)!))];
}

async function buildBundle(outDir: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "--code-splitting", "--outdir", outDir, "cli/hq.ts"],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno bundle failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

interface Run {
  /** Wall-clock ms (time origin + now), comparable with the child's `performance.timeOrigin`. */
  spawnAtMs: number;
  exitedAtMs: number;
  stderr: string;
}

/** Runs one process to its end; with `check`, fails unless it exits 0. */
async function runOnce(
  args: string[],
  options: { check?: boolean; stderr?: boolean } = {},
): Promise<Run> {
  const keepStderr = options.check || options.stderr;
  const spawnAtMs = performance.timeOrigin + performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: options.check ? "piped" : "null",
    stderr: keepStderr ? "piped" : "null",
  }).output();
  const exitedAtMs = performance.timeOrigin + performance.now();
  const stderr = keepStderr ? new TextDecoder().decode(output.stderr) : "";
  if (options.check && !output.success) {
    throw new Error(`deno run -A ${args.join(" ")} exited with ${output.code}: ${stderr}`);
  }
  return { spawnAtMs, exitedAtMs, stderr };
}

function parseTimeline(stderr: string): Timeline {
  const line = stderr.split("\n").find((l) => l.startsWith(TIMELINE_PREFIX));
  if (!line) throw new Error(`The server info timeline printed no timeline: ${stderr}`);
  return JSON.parse(line.slice(TIMELINE_PREFIX.length)) as Timeline;
}

/** Median of each step over the timeline runs, with its share of the probe's median wall time. */
function breakdownRows(
  runs: Array<{ spawnAtMs: number; exitedAtMs: number; timeline: Timeline }>,
  wallMs: number,
): BenchRow[] {
  const msByKey = new Map<string, number[]>();
  const add = (key: string, ms: number) => {
    if (!msByKey.has(key)) msByKey.set(key, []);
    msByKey.get(key)!.push(ms);
  };
  for (const { spawnAtMs, exitedAtMs, timeline } of runs) {
    // Both sides read the same wall clock: what passed before the child's time origin is spawning
    // the process and starting the runtime; what passed after its last mark is exit and teardown.
    add("process-spawn-to-time-origin", timeline.timeOriginMs - spawnAtMs);
    for (const [key, , phaseMs] of timeline.phases) add(key, phaseMs);
    add("exit", exitedAtMs - (timeline.timeOriginMs + timeline.endMs));
    for (const [label, callMs] of timeline.firstCalls) add(`of-which/${slug(label)}`, callMs);
    add("of-which/webcrypto-calls", timeline.crypto.reduce((sum, [, callMs]) => sum + callMs, 0));
  }
  return [...msByKey].map(([key, samples]) => {
    const figure = median(samples);
    return {
      name: `cold_start/server-info-breakdown/${key}`,
      figure,
      unit: "ms",
      reference: wallMs,
      referenceLabel: "wall",
      ratio: figure / wallMs,
      target: "",
    };
  });
}

function slug(label: string): string {
  if (label.includes("setTimeout")) return "first-setTimeout-read";
  if (label.includes("AbortSignal")) return "first-AbortSignal.timeout";
  return label.replace(/[^A-Za-z0-9.]+/g, "-");
}

function numberArg(args: string[], flag: string): number | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : undefined;
}

if (import.meta.main) {
  const rows = await benchColdStart({ rounds: numberArg(Deno.args, "--rounds") });
  console.log(formatTable(rows));
}
