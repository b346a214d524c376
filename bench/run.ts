/**
 * Runs the benchmarks (all, or those named on the command line), prints one table and writes
 * bench/results.json with the rows and the machine they came from.
 *
 *   deno task bench                          # everything, about a minute
 *   deno task bench transport_roundtrip cold_start
 */
import { type BenchRow, formatTable } from "./_bench_row.ts";

/** In run order. Each is imported only when it runs, so one benchmark loads nothing else's code. */
const BENCHMARKS: Record<string, () => Promise<BenchRow[]>> = {
  cold_start: async () => (await import("./cold_start.ts")).benchColdStart(),
  server_ready: async () => (await import("./server_ready.ts")).benchServerReady(),
  transport_roundtrip: async () =>
    (await import("./transport_roundtrip.ts")).benchTransportRoundtrip(),
  transport_throughput: async () =>
    (await import("./transport_throughput.ts")).benchTransportThroughput(),
  webcrypto_cost: async () => (await import("./webcrypto_cost.ts")).benchWebcryptoCost(),
  worker_capacity: async () => (await import("./worker_capacity.ts")).benchWorkerCapacity(),
  task_spawn: async () => (await import("./task_spawn.ts")).benchTaskSpawn(),
  job_throughput: async () => (await import("./job_throughput.ts")).benchJobThroughput(),
  scheduler_core: async () => (await import("./scheduler_core.ts")).benchSchedulerCore(),
  autoalloc_decision: async () =>
    (await import("./autoalloc_decision.ts")).benchAutoallocDecision(),
  // Needs the real Slurm of shared/slurm (skipped with a note when it is down); ~15 s.
  autoalloc_latency: async () => (await import("./autoalloc_latency.ts")).benchAutoallocLatency(),
  zero_worker: async () => (await import("./zero_worker.ts")).benchZeroWorker(),
  // 2 x 10,000 real tasks on a 2-CPU worker: ~30 s.
  stream_output: async () => (await import("./stream_output.ts")).benchStreamOutput(),
  graph_throughput: async () => (await import("./graph_throughput.ts")).benchGraphThroughput(),
  journal: async () => (await import("./journal.ts")).benchJournal(),
  load: async () => (await import("./load.ts")).benchLoad(),
  // A 1,000,000-task, 1,000-worker journal replayed by `hq dashboard` in headless Chromium: ~20 s.
  dashboard: async () => (await import("./dashboard.ts")).benchDashboard(),
  // Last: it imports the msgpackr package root, which loads a native addon into this process.
  msgpack_codecs: async () => {
    // It has no quick mode; its figures take about 15 s.
    const { benchMsgpackCodecs } = await import("./msgpack_codecs.ts");
    return (await benchMsgpackCodecs()).map((result) => ({
      name: result.name.replace(/^msgpack\//, "msgpack_codecs/"),
      figure: result.figure,
      unit: result.unit,
      reference: result.reference,
      referenceLabel: "@msgpack",
      ratio: result.ratio,
      target: "",
    }));
  },
};

const RESULTS_PATH = new URL("./results.json", import.meta.url).pathname;

async function main(names: string[]): Promise<number> {
  const unknown = names.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(
      `error: unknown benchmark "${unknown[0]}": choose from ${Object.keys(BENCHMARKS).join(", ")}`,
    );
    return 2;
  }
  const selected = names.length > 0
    ? Object.keys(BENCHMARKS).filter((name) => names.includes(name))
    : Object.keys(BENCHMARKS);
  const startedAt = new Date().toISOString();
  const loadavgAtStart = Deno.loadavg();
  const rows: BenchRow[] = [];
  for (const name of selected) {
    const start = performance.now();
    console.error(`running ${name} …`);
    rows.push(...await BENCHMARKS[name]());
    console.error(`  ${name} took ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
  const machine = await machineInfo();
  const loadavgAtEnd = Deno.loadavg();
  console.log(formatTable(rows));
  console.log(
    `\n${machine.deno.split("\n")[0]}; ${machine.nproc} cores, ${machine.cpu}; ` +
      `load average ${loadavgAtStart[0].toFixed(2)} at start, ${loadavgAtEnd[0].toFixed(2)} at end`,
  );
  const results = {
    benchmarks: selected,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadavgAtStart, loadavgAtEnd },
    rows,
  };
  await Deno.writeTextFile(RESULTS_PATH, JSON.stringify(results, null, 2) + "\n");
  console.log(`written to ${RESULTS_PATH}`);
  return 0;
}

async function machineInfo() {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    deno: (await commandOutput(Deno.execPath(), ["--version"])).trim(),
    nproc: Number(await commandOutput("nproc", [])) || navigator.hardwareConcurrency,
    cpu: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU",
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.target} ${Deno.osRelease()}`,
    date: new Date().toISOString(),
  };
}

async function commandOutput(program: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "null" })
      .output();
    return new TextDecoder().decode(output.stdout);
  } catch {
    return "";
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
