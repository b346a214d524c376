/**
 * End-to-end tests of resource requests (resources spec §3, §4, §6; jobs spec §2.1, §7.3, §9.2):
 * what tasks see of the resources they asked for, how requests share a worker, how `job info`
 * shows them, and the submit-side errors.
 */
import assert from "node:assert/strict";
import { HqClient } from "../client/mod.ts";
import { testTaskTemplate } from "../server/scheduler/_test_fixtures.ts";
import {
  hqAt,
  hqOkAt,
  submitJob,
  taskObjects,
  tempDir,
  TestServer,
  waitForJob,
  waitUntil,
} from "./harness.ts";

function variablesOf(text: string): Record<string, string> {
  return Object.fromEntries(
    text.trim().split("\n").filter((line) => line.includes("=")).map((line) => {
      const eq = line.indexOf("=");
      return [line.slice(0, eq), line.slice(eq + 1)];
    }),
  );
}

const SHOW_ENV = `env | grep -E '^(HQ_RESOURCE|HQ_CPUS|CUDA|ROCR|OMP_NUM_THREADS)' | sort`;

Deno.test("a task asking gpus/nvidia=1 on a worker with CUDA_VISIBLE_DEVICES=2,3 sees one of them, with the spec's variables", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "4", "--resource", "mem=sum(1000)"], {
    env: { CUDA_VISIBLE_DEVICES: "2,3" },
  });
  await server.waitForWorkerState(1, "RUNNING");
  const id = await submitJob(server, [
    "--array",
    "1-4",
    "--wait",
    "--resource",
    "gpus/nvidia=1",
    "--resource",
    "mem=400",
    "--",
    "bash",
    "-c",
    `${SHOW_ENV}; echo START=$(date +%s%N); sleep 0.3; echo END=$(date +%s%N)`,
  ], { cwd: cwd.path });
  const tasks = await taskObjects(server, id);
  assert.deepEqual(tasks.map((task) => task.state), Array(4).fill("finished"));
  const runs: Array<{ gpu: string; start: number; end: number }> = [];
  for (const task of tasks) {
    const vars = variablesOf(await Deno.readTextFile(`${cwd.path}/job-${id}/${task.id}.stdout`));
    assert.match(vars.CUDA_VISIBLE_DEVICES, /^[23]$/);
    assert.equal(vars.HQ_RESOURCE_VALUES_gpus_nvidia, vars.CUDA_VISIBLE_DEVICES);
    assert.equal(vars.CUDA_DEVICE_ORDER, "PCI_BUS_ID");
    assert.equal(vars.HQ_RESOURCE_REQUEST_gpus_nvidia, "1 compact");
    assert.equal(vars.HQ_RESOURCE_REQUEST_mem, "400 compact");
    assert.equal(vars.HQ_RESOURCE_REQUEST_cpus, "1 compact");
    assert.equal(vars.HQ_RESOURCE_VALUES_mem, undefined, "sum pools have no values");
    assert.equal(vars.HQ_CPUS, vars.HQ_RESOURCE_VALUES_cpus);
    assert.equal(vars.OMP_NUM_THREADS, "1");
    runs.push({ gpu: vars.CUDA_VISIBLE_DEVICES, start: Number(vars.START), end: Number(vars.END) });
  }
  // Two GPUs and 1000 of memory for 400 each: never more than two tasks at once, and the ones
  // running at the same time hold different GPUs (checked at every start, when it is most full).
  for (const a of runs) {
    const running = runs.filter((b) => b.start <= a.start && a.start < b.end);
    assert.ok(running.length <= 2, JSON.stringify(runs));
    assert.equal(new Set(running.map((b) => b.gpu)).size, running.length, JSON.stringify(runs));
  }

  // Fractions share a label: two gpus/nvidia=0.5 tasks can run on one GPU.
  const half = await submitJob(server, [
    "--wait",
    "--cpus",
    "0.5",
    "--resource",
    "gpus/nvidia=0.5",
    "--",
    "bash",
    "-c",
    SHOW_ENV,
  ], { cwd: cwd.path });
  const vars = variablesOf(await Deno.readTextFile(`${cwd.path}/job-${half}/0.stdout`));
  assert.equal(vars.HQ_RESOURCE_REQUEST_cpus, "0.5 compact");
  assert.equal(vars.OMP_NUM_THREADS, undefined, "no OMP_NUM_THREADS for fractional CPUs");
  assert.match(vars.HQ_CPUS, /^[0-3]$/);
});

Deno.test("a request no connected worker can satisfy waits until a capable worker joins", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _small = server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  const id = await submitJob(server, ["--resource", "fpga=1", "--", "true"], { cwd: cwd.path });
  const waiting = await hqOkAt(server, ["--output-mode", "quiet", "job", "list"]);
  assert.equal(waiting, `${id} WAITING\n`);
  await using _fpga = server.startWorker(["--cpus", "1", "--resource", "fpga=[a]"]);
  await hqOkAt(server, ["job", "wait", String(id)]);
  const [task] = await taskObjects(server, id);
  assert.equal(task.state, "finished");
  assert.equal(task.worker, 2);
});

Deno.test("job info shows the request per resource, JSON carries HyperQueue's encodings; bad requests are refused", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  const id = await submitJob(server, [
    "--array",
    "1-2",
    "--cpus",
    "2 scatter",
    "--resource",
    "mem=1.5",
    "--resource",
    "gpus/amd=all",
    "--weight",
    "2",
    "--time-request",
    "1m",
    "--",
    "true",
  ], { cwd: cwd.path });
  const info = await hqOkAt(server, ["job", "info", String(id)]);
  assert.match(
    info,
    /\| Resources +\| cpus: 2 scatter +\|\n\| +\| gpus\/amd: all +\|\n\| +\| mem: 1\.5 compact +\|\n\| +\| \[weight: 2\] +\|/,
  );
  const [detail] = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "job", "info", String(id)]),
  );
  assert.deepEqual(detail.submits[0].array.resources, [{
    min_time: 60,
    n_nodes: 0,
    resources: [
      { request: { Scatter: 20_000 }, resource: "cpus" },
      { request: { Compact: 15_000 }, resource: "mem" },
      { request: "All", resource: "gpus/amd" },
    ],
    weight: 20_000,
  }]);

  const refused = async (args: string[], code: number, stderr: RegExp) => {
    const result = await hqAt(server, ["submit", ...args, "--", "true"], { cwd: cwd.path });
    assert.equal(result.code, code, result.stderr);
    assert.match(result.stderr, stderr);
  };
  await refused(
    ["--cpus", "2", "--resource", "cpus=1"],
    1,
    /^--cpus and --resource cpus=\.\.\. cannot be combined\n$/,
  );
  await refused(
    ["--resource", "gpus=1", "--resource", "gpus=2"],
    1,
    /^Resource 'gpus' defined more than once\n$/,
  );
  await refused(["--cpus", "0"], 2, /Zero resources cannot be requested/);
  await refused(["--resource", "mem=1.00001"], 2, /Resource precision exceeded/);
  await refused(["--resource", "a_b=1"], 2, /^error: .*'_'/);
  await refused(["--cpus", "2 loose"], 2, /^error: /);
  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "job", "list", "--all"]),
    `${id} WAITING\n`,
  );
});

Deno.test("a two-node task on two workers of one group gets both hostnames in its node and host files", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  const worker = (hostname: string, group: string) =>
    server.startWorker(["--cpus", "1", "--hostname", hostname, "--group", group]);
  // One after another, so that ids follow the order (the root is the lowest id).
  await using _w1 = worker("cn1.cluster.example", "g");
  await server.waitForWorkerState(1, "RUNNING");
  await using _w2 = worker("cn2.cluster.example", "other");
  await server.waitForWorkerState(2, "RUNNING");
  await using _w3 = worker("10.0.0.3", "g");
  await server.waitForWorkerState(3, "RUNNING");
  const script = `echo NODES=$HQ_NUM_NODES; echo CPUS=\${HQ_CPUS-unset}; ` +
    `echo NODEFILE=$(paste -sd, "$HQ_NODE_FILE"); echo HOSTFILE=$(paste -sd, "$HQ_HOST_FILE"); ` +
    `[ -d "$HQ_TASK_DIR" ] && echo TASK_DIR=yes`;
  const id = await submitJob(server, ["--nodes", "2", "--wait", "--", "bash", "-c", script], {
    cwd: cwd.path,
  });
  const [task] = await taskObjects(server, id);
  assert.equal(task.state, "finished");
  assert.deepEqual((task as unknown as { workers: number[] }).workers, [1, 3]);
  assert.deepEqual(variablesOf(await Deno.readTextFile(`${cwd.path}/job-${id}/0.stdout`)), {
    NODES: "2",
    CPUS: "unset",
    NODEFILE: "cn1,10.0.0.3",
    HOSTFILE: "cn1.cluster.example,10.0.0.3",
    TASK_DIR: "yes",
  });
  assert.match(
    await hqOkAt(server, ["job", "info", String(id)]),
    /\| Resources +\| nodes: 2 +\|/,
  );
  // Three nodes of one group do not exist: the task waits.
  const waiting = await submitJob(server, ["--nodes", "3", "--", "true"], { cwd: cwd.path });
  assert.equal(
    await hqOkAt(server, ["--output-mode", "quiet", "job", "list"]),
    `${waiting} WAITING\n`,
  );
  const conflict = await hqAt(server, ["submit", "--nodes", "2", "--cpus", "2", "--", "true"]);
  assert.equal(conflict.code, 2);
  assert.match(
    conflict.stderr,
    /^error: the argument '--nodes <NODES>' cannot be used with '--cpus <CPUS>'/,
  );
});

Deno.test("a task with request variants (TypeScript API; job files later) runs with one, and sees which", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "2", "--resource", "gpus=[0]"]);
  await server.waitForWorkerState(1, "RUNNING");
  const client = await HqClient.connect({ serverDir: server.dir });
  try {
    const cpu = { name: "cpus", amount: 10_000, policy: "compact" } as const;
    const gpu = { name: "gpus", amount: 10_000, policy: "compact" } as const;
    const template = testTaskTemplate(cwd.path, {
      args: ["bash", "-c", SHOW_ENV + "; echo VARIANT=$HQ_RESOURCE_VARIANT; sleep 0.5"],
      stdout: `${cwd.path}/%{TASK_ID}.out`,
      variants: [
        { resources: [cpu, gpu], timeRequestMs: 0, weight: 1 },
        { resources: [cpu], timeRequestMs: 0, weight: 1 },
      ],
    });
    const response = await client.request({
      type: "submit",
      jobId: null,
      name: "variants",
      maxFails: null,
      submit: { template, ids: [[0, 1, 1]], entries: null },
      autoIdCount: null,
    });
    assert.equal(response.type, "job-created");
    await client.request({ type: "job-wait", selector: { type: "all" }, withoutClose: false });
  } finally {
    client.close();
  }
  const seen = [];
  for (const task of [0, 1]) {
    seen.push(variablesOf(await Deno.readTextFile(`${cwd.path}/${task}.out`)));
  }
  seen.sort((a, b) => a.VARIANT.localeCompare(b.VARIANT));
  assert.equal(seen[0].VARIANT, "0");
  assert.equal(seen[0].HQ_RESOURCE_VALUES_gpus, "0");
  assert.equal(seen[1].VARIANT, "1");
  assert.equal(seen[1].HQ_RESOURCE_REQUEST_gpus, undefined);
  assert.equal(seen[1].HQ_RESOURCE_REQUEST_cpus, "1 compact");
  const info = await hqOkAt(server, ["job", "info", "1"]);
  assert.match(
    info,
    /# Variant 0 +\|\n\| +\| cpus: 1 compact +\|\n\| +\| gpus: 1 compact +\|\n\| +\| +\|\n\| +\| # Variant 1 +\|/,
  );
});

Deno.test("a worker hands back queued tasks whose time request no longer fits its remaining time", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker([
    "--cpus",
    "1",
    "--time-limit",
    "10s",
    "--retract-check-interval",
    "500ms",
  ]);
  await server.waitForWorkerState(1, "RUNNING");
  const busy = await submitJob(server, ["--", "sleep", "3"], { cwd: cwd.path });
  // Fits the worker's ~9.5 s left when placed (queued behind `busy`), not after ~1.5 s more.
  const late = await submitJob(server, ["--time-request", "8s", "--", "true"], { cwd: cwd.path });
  await hqOkAt(server, ["job", "wait", String(busy)]);
  // Had the worker kept it, it would have started the moment `busy` ended.
  const [task] = await taskObjects(server, late);
  assert.equal(task.state, "waiting");
  const explain = await hqOkAt(server, ["task", "explain", String(late), "0"]);
  assert.match(explain, /There is no worker where the task can run\./);
});

Deno.test("backfill: a --priority -1 task runs in the CPUs a waiting foo=2 task cannot use, and finishes while it waits", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "4", "--resource", "foo=[1,2]"]);
  await server.waitForWorkerState(1, "RUNNING");
  const foo2 = ["--resource", "foo=2", "--", "sleep", "30"];
  const first = await submitJob(server, foo2, { cwd: cwd.path });
  await waitUntil(async () => (await taskObjects(server, first))[0].state === "running", {
    what: "the first foo=2 task to run",
  });
  const second = await submitJob(server, foo2, { cwd: cwd.path });
  const low = await submitJob(server, ["--priority", "-1", "--cpus", "1", "--", "true"], {
    cwd: cwd.path,
  });
  await waitForJob(server, low, 15_000);
  assert.equal((await taskObjects(server, low))[0].state, "finished");
  assert.equal((await taskObjects(server, second))[0].state, "waiting");
  await hqOkAt(server, ["job", "cancel", "all"]);
});
