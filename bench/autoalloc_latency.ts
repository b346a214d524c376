/**
 * From `hq submit` to the first task running when a Slurm queue must first get an allocation, on
 * the real Slurm of this machine (shared/slurm), and where that time goes. Each round adds a fresh
 * queue (`hq alloc add slurm --time-limit 5m --idle-timeout 2s --cpus 1 --no-dry-run`), submits
 * one task that writes its start time, waits for it, removes the queue with `--force` and waits
 * until the allocation has ended and its worker is gone.
 *
 * The split of each round, from timestamps on one clock (this machine's):
 *   0. client     `hq submit` spawned → its answer on stdout; of which the CLI's start-up until
 *                 the server logs its connection
 *   1. decision   answer → the allocator starts the submission (server `--debug` line); mostly
 *                 the wait for the next scheduling tick
 *   2. sbatch     that line → `allocation … submitted` (allocation directory, script, `sbatch`)
 *   3. slurm      `sbatch` returned → the allocation's script runs (`--worker-start-cmd` writes
 *                 the time); of which, from Slurm's own logs when readable: controller scheduling
 *                 (`sched: Allocate`) and slurmd's launch
 *   4. worker     script → `Worker N registered` on the server; of which the Deno start-up until
 *                 the worker's first log line (in the allocation's `stderr`), and the time from
 *                 its `SLURM environment detected` (the remaining time from `scontrol`, the rest
 *                 of the configuration, connect, handshake and registration)
 *   5. task       registration → the task process writes its start time
 * Parts 0, 1, 4 and 5 are hq's; 2 and 3 are mostly Slurm's.
 *
 * The server runs with `HQ_AUTOALLOC_SCHEDULE_TICK_INTERVAL_MS=100`, so part 1 is the pass plus
 * at most 0.1 s of waiting for the tick (its smallest value bounds the pass). A last round on a second server with the default 5 s tick shows
 * what the tick costs: on average half a tick, 2.5 s; the round submits at a random moment, so
 * it is one draw from 0–5 s.
 *
 *   deno run -A bench/autoalloc_latency.ts [--rounds 5] [--no-default-tick]
 */
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { type LiveServer, startLiveServer } from "./_live_server.ts";
import { median, min } from "./_stats.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const SLURM_LOG_DIR = "/var/log/slurm-local";
const DEFAULT_TICK_MS = 5_000;
const SHORT_TICK_MS = 100;
const ROUND_TIMEOUT_MS = 60_000;
const POLL_MS = 10;
const decoder = new TextDecoder();

export interface AutoallocLatencyOptions {
  /** Rounds on the server with the short tick. @default {5} */
  rounds?: number;
  /** Also one round on a server with the default 5 s tick. @default {true} */
  defaultTickRound?: boolean;
}

/** Epoch milliseconds of one round's moments; null where a log did not say. */
interface RoundTimes {
  spawnMs: number;
  /** The server's `Client connected` line of the `hq submit` process. */
  connectedMs: number;
  ackMs: number;
  submittingMs: number;
  submittedMs: number;
  slurmSubmitMs: number | null;
  slurmAllocateMs: number | null;
  slurmLaunchMs: number | null;
  scriptMs: number;
  workerFirstLogMs: number;
  /** The worker's `SLURM environment detected`, logged right before it asks `scontrol`. */
  workerDetectedMs: number;
  registeredMs: number;
  taskMs: number;
}

interface Part {
  name: string;
  of: (t: RoundTimes) => number | null;
  /** An `of-which` row: a piece of the part above it, not extra time. */
  detail?: boolean;
}

const PARTS: Part[] = [
  { name: "0-client-submit", of: (t) => t.ackMs - t.spawnMs },
  {
    name: "0-of-which-cli-start-to-connect",
    of: (t) => t.connectedMs - t.spawnMs,
    detail: true,
  },
  { name: "1-decision", of: (t) => t.submittingMs - t.ackMs },
  { name: "2-sbatch", of: (t) => t.submittedMs - t.submittingMs },
  { name: "3-slurm-start", of: (t) => t.scriptMs - t.submittedMs },
  {
    name: "3-of-which-controller-scheduling",
    of: (t) => diff(t.slurmAllocateMs, t.slurmSubmitMs),
    detail: true,
  },
  {
    name: "3-of-which-allocate-to-script",
    of: (t) => diff(t.scriptMs, t.slurmAllocateMs),
    detail: true,
  },
  {
    name: "3-of-which-slurmd-launch-to-script",
    of: (t) => diff(t.scriptMs, t.slurmLaunchMs),
    detail: true,
  },
  { name: "4-worker-registration", of: (t) => t.registeredMs - t.scriptMs },
  {
    name: "4-of-which-deno-start-to-first-log",
    of: (t) => t.workerFirstLogMs - t.scriptMs,
    detail: true,
  },
  {
    name: "4-of-which-slurm-detected-to-registered",
    of: (t) => t.registeredMs - t.workerDetectedMs,
    detail: true,
  },
  { name: "5-registration-to-task", of: (t) => t.taskMs - t.registeredMs },
  { name: "total", of: (t) => t.taskMs - t.spawnMs },
];

function diff(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a - b;
}

export async function benchAutoallocLatency(
  options: AutoallocLatencyOptions = {},
): Promise<BenchRow[]> {
  if (!(await slurmUp())) {
    console.error("autoalloc_latency: skipped, Slurm is not up (see shared/slurm/README.md)");
    return [];
  }
  const roundCount = options.rounds ?? 5;
  const work = await Deno.makeTempDir({ prefix: "hq-bench-alloc-" });
  const prefix = `lat${crypto.randomUUID().slice(0, 6)}`;
  const slurmJobIds = new Set<string>();
  const rounds: RoundTimes[] = [];
  let defaultTickRound: RoundTimes | null = null;
  try {
    {
      await using server = await startServer(SHORT_TICK_MS);
      for (let i = 0; i < roundCount; i++) {
        rounds.push(await runRound(server, { work, name: `${prefix}s${i}`, slurmJobIds }));
        console.error(`  round ${i + 1}: ${describeRound(rounds[i])}`);
      }
    }
    if (options.defaultTickRound ?? true) {
      await using server = await startServer(null);
      defaultTickRound = await runRound(server, {
        work,
        name: `${prefix}d`,
        slurmJobIds,
        randomDelayMs: DEFAULT_TICK_MS,
      });
      console.error(`  default tick: ${describeRound(defaultTickRound)}`);
    }
  } finally {
    await scancel([...slurmJobIds, ...await jobIdsNamed(prefix)]);
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return toRows(rounds, defaultTickRound);
}

function toRows(rounds: RoundTimes[], defaultTickRound: RoundTimes | null): BenchRow[] {
  const totals = rounds.map((t) => t.taskMs - t.spawnMs);
  const medianTotal = median(totals);
  const rows: BenchRow[] = [];
  for (const part of PARTS) {
    const values = rounds.map(part.of).filter((v): v is number => v !== null);
    if (values.length === 0) continue;
    const isTotal = part.name === "total";
    rows.push({
      name: `autoalloc_latency/${part.name}`,
      figure: median(values),
      unit: `ms (median; ${values.length} rounds ${spread(values)})`,
      reference: isTotal ? null : medianTotal,
      referenceLabel: "total",
      ratio: isTotal ? null : median(values) / medianTotal,
      target: "",
    });
  }
  if (defaultTickRound) {
    for (const name of ["1-decision", "total"]) {
      const part = PARTS.find((p) => p.name === name)!;
      const shortTick = median(rounds.map((t) => part.of(t)!));
      rows.push({
        name: `autoalloc_latency/default-5s-tick-${name}`,
        figure: part.of(defaultTickRound)!,
        unit: "ms (one round)",
        reference: shortTick,
        referenceLabel: "100 ms tick",
        ratio: part.of(defaultTickRound)! / shortTick,
        target: "",
      });
    }
    rows.push({
      name: "autoalloc_latency/default-5s-tick-expected-wait",
      figure: DEFAULT_TICK_MS / 2,
      unit: "ms (half a tick)",
      reference: SHORT_TICK_MS / 2,
      referenceLabel: "100 ms tick",
      ratio: DEFAULT_TICK_MS / SHORT_TICK_MS,
      target: "",
    });
  }
  return rows;
}

function spread(values: number[]): string {
  const round = (v: number) => Math.round(v).toLocaleString("en-US");
  return `${round(min(values))}–${round(Math.max(...values))}`;
}

function describeRound(t: RoundTimes): string {
  return PARTS.filter((p) => !p.detail).map((p) => {
    const value = p.of(t);
    return `${p.name.replace(/^\d-/, "")} ${value === null ? "?" : Math.round(value)}`;
  }).join(", ") + " ms";
}

/** A server with `--debug` (millisecond timestamps, the submission line) and the given tick. */
async function startServer(tickMs: number | null): Promise<LiveServer> {
  // The server (and through sbatch's exported environment, the workers) inherit these; they
  // are set only for the spawn, as bench/run.ts runs other benchmarks in this process.
  const vars: Record<string, string | null> = {
    HQ_DEBUG: "true",
    HQ_AUTOALLOC_SCHEDULE_TICK_INTERVAL_MS: tickMs === null ? null : String(tickMs),
  };
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, Deno.env.get(name)]));
  const apply = (values: Record<string, string | null | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === null || value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  apply(vars);
  try {
    return await startLiveServer({ captureStderr: true });
  } finally {
    apply(saved);
  }
}

interface RoundOptions {
  work: string;
  /** The queue's `--name`; its allocations are `<name>-<attempt>` in Slurm. */
  name: string;
  /** Every Slurm job id seen, for the final cleanup. */
  slurmJobIds: Set<string>;
  /** Submit after a random delay of up to this long. @default {0} */
  randomDelayMs?: number;
}

async function runRound(server: LiveServer, options: RoundOptions): Promise<RoundTimes> {
  const { work, name } = options;
  const scriptStampPath = `${work}/${name}.script-start`;
  const taskStampPath = `${work}/${name}.task-start`;
  const added = await hq(server, [
    ...["alloc", "add", "slurm", "--time-limit", "5m", "--idle-timeout", "2s", "--cpus", "1"],
    ...["--no-dry-run", "--name", name, "--worker-start-cmd", `date +%s%3N > ${scriptStampPath}`],
  ]);
  const queueId = Number(/Allocation queue (\d+) successfully created/.exec(added)?.[1]);
  if (!Number.isInteger(queueId)) throw new Error(`hq alloc add printed no queue id:\n${added}`);
  // With the short tick, let the pass that the new queue triggers (no demand yet) go by.
  await sleep(3 * SHORT_TICK_MS);
  // Without it the submit would land at the same point between two ticks in every run (the
  // server's timer starts with the server), and one round would not be a fair draw of the wait.
  await sleep(Math.random() * (options.randomDelayMs ?? 0));

  const spawnMs = Date.now();
  const submit = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", "--quiet", MAIN_TS, "--server-dir", server.serverDir],
      ...["--output-mode", "quiet", "submit", "--cwd", work, "--"],
      ...["bash", "-c", `date +%s%3N > ${taskStampPath}`],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderrText = new Response(submit.stderr).text();
  const reader = submit.stdout.getReader();
  let stdout = "";
  let ackMs = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    // The first bytes of the answer: the server has created the job.
    ackMs ||= Date.now();
    stdout += decoder.decode(chunk.value, { stream: true });
  }
  if (!(await submit.status).success) throw new Error(`hq submit failed: ${await stderrText}`);
  await stderrText;
  const jobId = stdout.trim();

  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  while (!(await exists(taskStampPath))) {
    if (Date.now() > deadline) throw new Error(`Round ${name}: the task did not start`);
    await sleep(POLL_MS);
  }
  const taskMs = await readStamp(taskStampPath);
  // The measured part is over: from here on, polling with the CLI costs nothing that counts.
  await hq(server, ["job", "wait", jobId]);
  const [allocation] = await allocations(server, queueId);
  if (!allocation) throw new Error(`Round ${name}: no allocation in hq alloc info`);
  options.slurmJobIds.add(allocation.id);
  await hq(server, ["alloc", "remove", String(queueId), "--force"]);
  await waitUntil(async () => await slurmJobEnded(allocation.id), `job ${allocation.id} ends`);
  await waitUntil(
    async () =>
      JSON.parse(await hq(server, ["worker", "list", "--output-mode", "json"])).length === 0,
    "no worker left",
  );

  const serverLog = parseLog(await Deno.readTextFile(server.stderrPath!));
  const workerLog = parseLog(await Deno.readTextFile(`${allocation.workdir}/stderr`));
  const at = (log: LogLine[], pattern: RegExp, what: string) => {
    const line = log.find((l) => pattern.test(l.text));
    if (!line) throw new Error(`Round ${name}: no log line for ${what} (${pattern})`);
    return line;
  };
  const workerId = /Worker (\d+) registered/.exec(
    at(workerLog, /Worker \d+ registered/, "the worker's registration").text,
  )![1];
  const slurm = await slurmTimes(allocation.id);
  const connected = serverLog.find((l) => l.ms >= spawnMs && /Client connected/.test(l.text));
  if (!connected) throw new Error(`Round ${name}: no log line for the submit's connection`);
  return {
    spawnMs,
    connectedMs: connected.ms,
    ackMs,
    submittingMs:
      at(serverLog, new RegExp(`Queue ${queueId}: submitting an allocation`), "the submission")
        .ms,
    submittedMs: at(
      serverLog,
      new RegExp(`Queue ${queueId}: allocation ${allocation.id} submitted`),
      "sbatch's return",
    ).ms,
    ...slurm,
    scriptMs: await readStamp(scriptStampPath),
    workerFirstLogMs: workerLog[0].ms,
    workerDetectedMs: at(workerLog, /SLURM environment detected/, "Slurm's detection").ms,
    registeredMs: at(serverLog, new RegExp(`Worker ${workerId} registered from`), "registration")
      .ms,
    taskMs,
  };
}

interface LogLine {
  ms: number;
  text: string;
}

/** hq's `--debug` lines: `2026-12-08T00:13:25.669Z DEBUG module: text`. */
function parseLog(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/.exec(line);
    if (match) lines.push({ ms: Date.parse(match[1]), text: match[2] });
  }
  return lines;
}

/**
 * Slurm's own view, from its daemons' logs (`[2026-12-08T00:13:25.669] …`, local time, ms with
 * `LogTimeFormat=iso8601_ms`); nulls when they cannot be read (not root, other setup).
 */
async function slurmTimes(
  jobId: string,
): Promise<Pick<RoundTimes, "slurmSubmitMs" | "slurmAllocateMs" | "slurmLaunchMs">> {
  const find = (text: string, pattern: RegExp): number | null => {
    for (const line of text.split("\n")) {
      const match = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\] (.*)$/.exec(line);
      // Without an offset, Date.parse reads a date-time as local time, as Slurm writes it.
      if (match && pattern.test(match[2])) return Date.parse(match[1]);
    }
    return null;
  };
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  const controller = await read(`${SLURM_LOG_DIR}/slurmctld.log`);
  let slurmd = "";
  try {
    for await (const entry of Deno.readDir(SLURM_LOG_DIR)) {
      if (entry.name.startsWith("slurmd")) slurmd += await read(`${SLURM_LOG_DIR}/${entry.name}`);
    }
  } catch {
    // No such directory: the rows from Slurm's logs are left out.
  }
  return {
    slurmSubmitMs: find(controller, new RegExp(`_slurm_rpc_submit_batch_job: JobId=${jobId} `)),
    slurmAllocateMs: find(controller, new RegExp(`sched: Allocate JobId=${jobId} `)),
    slurmLaunchMs: find(slurmd, new RegExp(`Launching batch job ${jobId} `)),
  };
}

interface AllocationJson {
  id: string;
  status: string;
  workdir: string;
}

async function allocations(server: LiveServer, queueId: number): Promise<AllocationJson[]> {
  return JSON.parse(
    await hq(server, ["alloc", "info", String(queueId), "--output-mode", "json"]),
  );
}

/** Runs `hq --server-dir <dir> <args>`; returns stdout, or stderr when stdout is empty. */
async function hq(server: LiveServer, args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN_TS, "--server-dir", server.serverDir, ...args],
    stdin: "null",
  }).output();
  const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  if (!output.success) throw new Error(`hq ${args.join(" ")} failed:\n${text}`);
  return decoder.decode(output.stdout) || decoder.decode(output.stderr);
}

async function slurmUp(): Promise<boolean> {
  const out = await commandText("sinfo", ["-h", "-o", "%t"]);
  return /idle|mix|alloc/.test(out ?? "");
}

async function slurmJobEnded(jobId: string): Promise<boolean> {
  const out = await commandText("scontrol", ["show", "job", jobId]);
  // A job older than MinJobAge is gone from scontrol altogether.
  return out === null || /JobState=(COMPLETED|CANCELLED|FAILED|TIMEOUT)/.test(out);
}

async function jobIdsNamed(prefix: string): Promise<string[]> {
  const out = await commandText("squeue", ["-h", "-o", "%j %i"]) ?? "";
  return out.split("\n").map((line) => line.trim().split(" "))
    .filter(([name, id]) => id && name.startsWith(prefix)).map(([, id]) => id);
}

async function scancel(ids: string[]): Promise<void> {
  if (ids.length > 0) await commandText("scancel", [...new Set(ids)]);
}

/** stdout of a successful command, or null. */
async function commandText(program: string, args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "null" })
      .output();
    return output.success ? decoder.decode(output.stdout) : null;
  } catch {
    return null;
  }
}

async function readStamp(path: string): Promise<number> {
  // The writer may not have finished the line yet.
  for (let attempt = 0; attempt < 100; attempt++) {
    const value = Number((await Deno.readTextFile(path)).trim());
    if (value > 0) return value;
    await sleep(POLL_MS);
  }
  throw new Error(`No time stamp in "${path}"`);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--rounds");
  const rows = await benchAutoallocLatency({
    rounds: at >= 0 ? Number(Deno.args[at + 1]) : undefined,
    defaultTickRound: !Deno.args.includes("--no-default-tick"),
  });
  console.log(formatTable(rows));
  const load = Deno.loadavg();
  console.log(`\nload average ${load.map((l) => l.toFixed(2)).join(", ")}`);
}
