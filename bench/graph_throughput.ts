/**
 * Task graphs through a live server on one zero worker (issue 14): a 100,000-task fan-out/fan-in
 * (1 → 99,998 → 1) and a 10,000-task chain, submitted as job definitions through the API
 * (`HqClient.submitJob`, the same path as `hq job submit-file` after TOML) and timed from the
 * definition to `job-wait`, next to an independent 100,000-task array in the same run. Then the
 * server's memory per edge: a fan-out whose root can never run (it asks for a resource no worker
 * has) against an array of as many tasks that cannot run either.
 *
 *   deno run -A bench/graph_throughput.ts [--cpu-prof-dir DIR]   (profile of the server)
 */
import { HqClient } from "../client/mod.ts";
import type { JobDefinition, TaskDefinition } from "../client/mod.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { median } from "./_stats.ts";
import {
  rssMb,
  sleep,
  startZeroWorkers,
  stopWorkers,
  submitJob,
  waitForWorkers,
  waitJob,
} from "./_zero_workers.ts";
import { testTaskTemplate, testWorkerConfiguration } from "../server/scheduler/_test_fixtures.ts";
import { SchedulerCore } from "../server/scheduler/scheduler_core.ts";
import { buildJobSubmits } from "../client/job_definition.ts";
import type { SubmitDescription } from "../common/job_types.ts";

const TASKS = 100_000;
const CHAIN = 10_000;
const SETTLE_MS = 3_000;
/** Rounds of the live array and fan-out, interleaved; the figures are medians. */
const ROUNDS = 3;

function fanOut(n: number, root: Partial<TaskDefinition> = {}): JobDefinition {
  const task: TaskDefinition[] = [{
    id: 1,
    command: ["true"],
    stdout: "none",
    stderr: "none",
    ...root,
  }];
  for (let id = 2; id < n; id++) {
    task.push({ id, deps: [1], command: ["true"], stdout: "none", stderr: "none" });
  }
  const middle = Array.from({ length: n - 2 }, (_, i) => i + 2);
  task.push({ id: n, deps: middle, command: ["true"], stdout: "none", stderr: "none" });
  return { name: "fan", task };
}

function chain(n: number): JobDefinition {
  const task: TaskDefinition[] = [];
  for (let id = 1; id <= n; id++) {
    task.push({
      id,
      deps: id === 1 ? [] : [id - 1],
      command: ["true"],
      stdout: "none",
      stderr: "none",
    });
  }
  return { name: "chain", task };
}

async function timed(action: () => Promise<number>, client: HqClient): Promise<number> {
  const started = performance.now();
  await waitJob(client, await action());
  return (performance.now() - started) / 1000;
}

/**
 * The scheduler core alone (no I/O, no other process): seconds to run every task of the submits
 * on one 2-CPU worker that finishes what it gets at once. Steadier than the live figures on a
 * shared machine, and it isolates the core's per-edge cost.
 */
function coreSeconds(submits: SubmitDescription[]): number {
  const core = new SchedulerCore({ prefillCpuSlots: 32 });
  let now = 0;
  core.handle({ type: "worker-joined", workerId: 1, configuration: testWorkerConfiguration(2) }, 0);
  const started = performance.now();
  submits.forEach((submit, i) =>
    core.handle(
      i === 0
        ? { type: "job-created", jobId: 1, name: "b", maxFails: null, isOpen: false, submit }
        : { type: "tasks-added", jobId: 1, submit },
      ++now,
    )
  );
  for (;;) {
    const tasks = core.handle({ type: "schedule" }, ++now)
      .flatMap((command) => command.type === "assign-tasks" ? command.tasks : []);
    if (tasks.length === 0) break;
    for (const task of tasks) {
      core.handle({ type: "task-started", workerId: 1, task }, ++now);
      core.handle({ type: "task-finished", workerId: 1, task }, ++now);
    }
  }
  if (!core.jobs.get(1)!.isCompleted) throw new Error("the core left tasks undone");
  return (performance.now() - started) / 1000;
}

export interface GraphThroughputOptions {
  /** Profile the server (`--cpu-prof`) into this directory. */
  cpuProfDir?: string;
}

export async function benchGraphThroughput(
  options: GraphThroughputOptions = {},
): Promise<BenchRow[]> {
  const edges = 2 * (TASKS - 2);
  const array: SubmitDescription = {
    template: testTaskTemplate("/tmp"),
    ids: [[1, TASKS, 1]],
    entries: null,
  };
  const graph = buildJobSubmits(fanOut(TASKS), { submitDir: "/tmp" }).submits;
  coreSeconds([array]);
  coreSeconds(graph);
  const coreArrayS = Math.min(coreSeconds([array]), coreSeconds([array]));
  const coreFanS = Math.min(coreSeconds(graph), coreSeconds(graph));
  const coreRows: BenchRow[] = [
    {
      name: "graph_throughput/core-100k-fan-out-fan-in",
      figure: TASKS / coreFanS,
      unit: "tasks/s",
      reference: TASKS / coreArrayS,
      referenceLabel: "array",
      ratio: coreArrayS / coreFanS,
      target: ">= 0.5x",
    },
    {
      name: "graph_throughput/core-cost-per-edge",
      figure: (coreFanS - coreArrayS) * 1e6 / edges,
      unit: "µs/edge",
      reference: null,
      referenceLabel: "",
      ratio: null,
      target: "",
    },
  ];
  const dir = await Deno.makeTempDir({ prefix: "hq-bench-graph-" });
  await using server = await startLiveServer({
    denoFlags: options.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`] : [],
  });
  const client = await HqClient.connect({ serverDir: server.serverDir });
  const workers = startZeroWorkers(server.serverDir, dir, 1);
  try {
    const pid = (await client.serverInfo()).pid;
    await waitForWorkers(client, 1);
    // Warm-up: the first jobs of a fresh server pay for compiling its code paths.
    await timed(() => submitJob(client, dir, [[1, 10_000, 1]]), client);
    await timed(() => client.submitJob(fanOut(10_000), { submitDir: dir }), client);
    // Interleaved rounds, medians: one job takes about a second, and a burst of other work on
    // the machine during one of them would otherwise decide the ratio.
    const arrayRuns: number[] = [];
    const fanRuns: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      arrayRuns.push(await timed(() => submitJob(client, dir, [[1, TASKS, 1]]), client));
      fanRuns.push(await timed(() => client.submitJob(fanOut(TASKS), { submitDir: dir }), client));
    }
    const arrayS = median(arrayRuns);
    const fanS = median(fanRuns);
    const chainS = await timed(() => client.submitJob(chain(CHAIN), { submitDir: dir }), client);
    await client.request({ type: "job-forget", selector: { type: "all" }, states: ["finished"] });

    // Memory: nothing of these runs (no worker has `gpus`), so the server keeps all of it.
    await sleep(SETTLE_MS);
    const before = rssMb(pid);
    await client.request({
      type: "submit",
      jobId: null,
      name: "blocked-array",
      maxFails: null,
      autoIdCount: null,
      submit: {
        template: testTaskTemplate(dir, {
          resources: [{ name: "gpus", amount: 10_000, policy: "compact" }],
        }),
        ids: [[1, TASKS, 1]],
        entries: null,
      },
    });
    await sleep(SETTLE_MS);
    const withArray = rssMb(pid);
    await client.submitJob(fanOut(TASKS, { request: [{ resources: { gpus: 1 } }] }), {
      submitDir: dir,
    });
    await sleep(SETTLE_MS);
    const withGraph = rssMb(pid);
    const arrayBytesPerTask = (withArray - before) * 2 ** 20 / TASKS;
    const graphBytes = (withGraph - withArray) * 2 ** 20;
    const bytesPerEdge = (graphBytes - arrayBytesPerTask * TASKS) / edges;

    const perS = (n: number, s: number) => n / s;
    const fanPerTask = perS(TASKS, fanS);
    const arrayPerTask = perS(TASKS, arrayS);
    return [
      ...coreRows,
      {
        name: "graph_throughput/100k-array-1-worker",
        figure: arrayPerTask,
        unit: "tasks/s",
        reference: null,
        referenceLabel: "",
        ratio: null,
        target: "",
      },
      {
        name: "graph_throughput/100k-fan-out-fan-in-1-worker",
        figure: fanPerTask,
        unit: "tasks/s",
        reference: arrayPerTask,
        referenceLabel: "array",
        ratio: fanPerTask / arrayPerTask,
        target: ">= 0.5x",
      },
      {
        name: "graph_throughput/fan-out-cost-per-edge",
        // The fan-out's time beyond the array's, over its edges.
        figure: (fanS - arrayS) * 1e6 / edges,
        unit: "µs/edge",
        reference: null,
        referenceLabel: "",
        ratio: null,
        target: "",
      },
      {
        name: "graph_throughput/10k-chain-1-worker",
        figure: perS(CHAIN, chainS),
        unit: "tasks/s",
        reference: arrayPerTask,
        referenceLabel: "array",
        ratio: perS(CHAIN, chainS) / arrayPerTask,
        target: "",
      },
      {
        name: "graph_throughput/server-memory-per-edge",
        figure: bytesPerEdge,
        unit: "B/edge",
        reference: arrayBytesPerTask,
        referenceLabel: "B/waiting array task",
        ratio: null,
        target: "",
      },
    ];
  } finally {
    client.close();
    await stopWorkers(workers);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--cpu-prof-dir");
  const cpuProfDir = at >= 0 ? Deno.args[at + 1] : undefined;
  console.log(formatTable(await benchGraphThroughput({ cpuProfDir })));
}
