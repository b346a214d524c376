/**
 * End-to-end tests of `hq worker …` (server-worker spec §4, §5): hardware detection on made-up
 * machines, what `worker list`/`info` and the worker itself print, every offline state reached by
 * its real cause, stop/info/address/wait, usage errors, and 64 workers on one server.
 */
import assert from "node:assert/strict";
import {
  hqOk,
  HqProcess,
  type HqResult,
  submitJob,
  taskObjects,
  tempDir,
  TestServer,
  waitUntil,
} from "./harness.ts";
import { type MachineShape, writeMadeUpMachine } from "../worker/_made_up_machine.ts";

// --- Made-up machines for `HQ_HWDETECT_ROOT` ---

/** Runs `hq worker hwdetect <args>` on a made-up machine, away from this machine's GPUs/Slurm. */
async function hwdetect(
  shape: MachineShape,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<string> {
  await using root = await tempDir("hq-machine-");
  writeMadeUpMachine(root.path, shape);
  return await hqOk(["worker", "hwdetect", ...args], {
    env: {
      HQ_HWDETECT_ROOT: root.path,
      CUDA_VISIBLE_DEVICES: "",
      ROCR_VISIBLE_DEVICES: "",
      SLURM_MEM_PER_NODE: "",
      ...env,
    },
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function summaryOf(hwdetectOutput: string): string[] {
  const [summary] = hwdetectOutput.split("\n\n");
  return summary.split("\n").slice(1);
}

function fullDescriptionOf(hwdetectOutput: string): string[] {
  const [, full] = hwdetectOutput.split("\n\n");
  assert.ok(full.startsWith("Full Description:\n"), hwdetectOutput);
  return full.trimEnd().split("\n").slice(1);
}

// --- Reading what hq prints ---

/** Cells of every `| … |` line of a cli table (header row included). */
function tableRows(stdout: string): string[][] {
  return stdout.split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
}

/** `label → value` of a vertical table; continuation lines join the value with `\n`. */
function infoTable(stdout: string): Map<string, string> {
  const rows = new Map<string, string>();
  let label = "";
  for (const [cellLabel, value] of tableRows(stdout)) {
    if (cellLabel !== "") {
      label = cellLabel;
      rows.set(label, value);
    } else rows.set(label, `${rows.get(label)}\n${value}`);
  }
  return rows;
}

/** Waits for the worker's own printout (cli mode) and returns the id it registered with. */
async function registeredId(worker: HqProcess): Promise<number> {
  const match = await waitUntil(() => {
    const found = /^\| Worker +\| (\d+) +\|$/m.exec(worker.stdout());
    if (found === null && worker.exited) {
      throw new Error(`The worker exited before registering:\n${worker.stderr()}`);
    }
    return found ?? undefined;
  }, { what: "the worker to register" });
  return Number(match[1]);
}

/** The exit status, or a failure if the process is still running after `timeoutMs`. */
async function exitOf(process: HqProcess, timeoutMs = 15_000): Promise<Deno.CommandStatus> {
  await waitUntil(() => process.exited, { timeoutMs, what: `process ${process.pid} to exit` });
  return await process.status();
}

function assertUsageError(result: HqResult, message: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /^error: /);
  assert.match(result.stderr, message);
}

const WORKER_KEYS = [
  "allocation",
  "configuration",
  "ended",
  "id",
  "last_task_started",
  "runtime_info",
  "started",
];
const CONFIGURATION_KEYS = [
  "group",
  "heartbeat_interval",
  "hostname",
  "idle_timeout",
  "listen_address",
  "min_utilization",
  "on_server_lost",
  "resources",
  "time_limit",
  "work_dir",
];
const INFO_LABELS = [
  "Worker",
  "State",
  "Hostname",
  "Started",
  "Data provider",
  "Working directory",
  "Heartbeat",
  "Idle timeout",
  "Overview interval",
  "Resources",
  "Time Limit",
  "Process pid",
  "Group",
  "Manager",
  "Manager Job ID",
  "Last task started",
];
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

// --- hwdetect ---

Deno.test("worker hwdetect shows 2 sockets of 12 hyper-threaded cores as 2x24, and 2x12 without hyper-threading", async () => {
  const shape = { sockets: 2, coresPerSocket: 12, threadsPerCore: 2 };
  const socket = (s: number) => [...range(s * 12, s * 12 + 11), ...range(24 + s * 12, 35 + s * 12)];
  assert.equal(
    await hwdetect(shape),
    "Summary:\ncpus: 2x24\nmem: 31.25 GiB\n\nFull Description:\n" +
      `cpus: [[${socket(0)}],[${socket(1)}]]\nmem: sum(32000)\n`,
  );

  const noHyperThreading = await hwdetect(shape, ["--no-hyper-threading"]);
  assert.deepEqual(summaryOf(noHyperThreading), ["cpus: 2x12", "mem: 31.25 GiB"]);
  assert.equal(
    fullDescriptionOf(noHyperThreading)[0],
    `cpus: [[${range(0, 11)}],[${range(12, 23)}]]`,
  );
});

Deno.test("worker hwdetect gives one socket with 4 NUMA nodes 4 groups", async () => {
  const output = await hwdetect({ sockets: 1, coresPerSocket: 8, nodesPerSocket: 4 });
  assert.equal(summaryOf(output)[0], "cpus: 4x2");
  assert.equal(fullDescriptionOf(output)[0], "cpus: [[0,1],[2,3],[4,5],[6,7]]");
});

Deno.test("worker hwdetect uses only the CPUs of a cpuset limited to 0-3", async () => {
  const output = await hwdetect({ sockets: 1, coresPerSocket: 16, allowed: "0-3" });
  assert.equal(summaryOf(output)[0], "cpus: 4");
  assert.equal(fullDescriptionOf(output)[0], "cpus: [0,1,2,3]");
});

Deno.test("worker hwdetect takes NVIDIA GPUs from CUDA_VISIBLE_DEVICES", async () => {
  const output = await hwdetect({ sockets: 1, coresPerSocket: 4 }, [], {
    CUDA_VISIBLE_DEVICES: "2,3",
  });
  assert.deepEqual(summaryOf(output), ["cpus: 4", "gpus/nvidia: 2", "mem: 31.25 GiB"]);
  assert.deepEqual(fullDescriptionOf(output), [
    "cpus: [0,1,2,3]",
    "gpus/nvidia: [2,3]",
    "mem: sum(32000)",
  ]);
});

Deno.test("worker hwdetect prints the resource descriptor object in JSON mode and nothing in quiet mode", async () => {
  const shape = { sockets: 2, coresPerSocket: 2, memTotalKb: 1_024_000 };
  const gpus = { CUDA_VISIBLE_DEVICES: "2,3" };
  const stdout = await hwdetect(shape, ["--output-mode", "json"], gpus);
  const descriptor = JSON.parse(stdout);
  assert.deepEqual(descriptor, {
    coupling: { weights: [] },
    resources: [
      { kind: "groups", name: "cpus", groups: [["0", "1"], ["2", "3"]] },
      { kind: "list", name: "gpus/nvidia", values: ["2", "3"] },
      { kind: "sum", name: "mem", size: 10_000_000 },
    ],
  });
  for (const item of descriptor.resources) {
    assert.deepEqual(Object.keys(item), Object.keys(item).sort(), "keys are sorted");
  }
  assert.equal(await hwdetect(shape, ["--output-mode", "quiet"], gpus), "");
});

Deno.test("worker hwdetect on this machine counts as many CPUs as nproc", async () => {
  const nproc = new TextDecoder().decode((await new Deno.Command("nproc").output()).stdout);
  const { resources } = JSON.parse(await hqOk(["worker", "hwdetect", "--output-mode", "json"]));
  const cpus = resources.find((item: { name: string }) => item.name === "cpus");
  const count = cpus.kind === "list"
    ? cpus.values.length
    : cpus.kind === "groups"
    ? cpus.groups.flat().length
    : cpus.end - cpus.start + 1;
  assert.equal(count, Number(nproc.trim()));
});

// --- What a running worker looks like ---

Deno.test("a worker started with --cpus=2x12 shows cpus 2x12 in worker list and its groups in JSON", async () => {
  await using server = await TestServer.start();
  await using worker = server.startWorker(["--cpus=2x12", "--hostname", "node-a"]);
  assert.equal(await registeredId(worker), 1);

  const [header, row, ...rest] = tableRows(
    await server.hqOk(["worker", "list"]),
  );
  assert.deepEqual(header, ["ID", "State", "Hostname", "Resources", "Manager", "Manager Job ID"]);
  assert.deepEqual(rest, []);
  assert.deepEqual([row[0], row[1], row[2], row[4], row[5]], [
    "1",
    "RUNNING",
    "node-a",
    "None",
    "N/A",
  ]);
  assert.match(row[3], /^cpus 2x12(; |$)/);

  const [listed] = JSON.parse(
    await server.hqOk(["worker", "list", "--output-mode", "json"]),
  );
  assert.deepEqual(Object.keys(listed), WORKER_KEYS);
  assert.deepEqual(Object.keys(listed.configuration), CONFIGURATION_KEYS);
  assert.equal(listed.id, 1);
  assert.equal(listed.allocation, null);
  assert.equal(listed.ended, null);
  assert.equal(listed.last_task_started, null);
  assert.equal(listed.runtime_info, null, "worker list leaves runtime_info out");
  assert.match(listed.started, TIMESTAMP);
  assert.equal(listed.configuration.hostname, "node-a");
  assert.equal(listed.configuration.group, "default");
  assert.equal(listed.configuration.heartbeat_interval, 8);
  assert.equal(listed.configuration.on_server_lost, "stop");
  assert.match(listed.configuration.listen_address, /^node-a:\d+$/);
  assert.deepEqual(
    listed.configuration.resources.resources.find((item: { name: string }) => item.name === "cpus"),
    {
      kind: "groups",
      name: "cpus",
      groups: [range(0, 11).map(String), range(12, 23).map(String)],
    },
  );

  const [info] = JSON.parse(
    await server.hqOk(["worker", "info", "1", "--output-mode", "json"]),
  );
  assert.deepEqual(Object.keys(info), WORKER_KEYS);
  assert.deepEqual(info.runtime_info, {
    SingleNodeTasks: { assigned_tasks: 0, is_reserved: false, running_tasks: 0 },
  });
});

Deno.test("worker info prints the spec's rows in order", async () => {
  await using server = await TestServer.start();
  await using worker = server.startWorker(["--cpus", "2x2", "--hostname", "node-b"]);
  const id = await registeredId(worker);
  const stdout = await server.hqOk(["worker", "info", String(id)]);
  const rows = infoTable(stdout);
  assert.deepEqual([...rows.keys()], [...INFO_LABELS, "Runtime Info"]);
  assert.equal(rows.get("Worker"), "1");
  assert.equal(rows.get("State"), "RUNNING");
  assert.equal(rows.get("Hostname"), "node-b");
  assert.match(rows.get("Started")!, /^"\d{4}-\d\d-\d\dT[\d:.]+Z"$/);
  assert.match(rows.get("Data provider")!, /^node-b:\d+$/);
  assert.equal(rows.get("Heartbeat"), "8s");
  assert.equal(rows.get("Idle timeout"), "None");
  assert.equal(rows.get("Overview interval"), "None");
  assert.match(rows.get("Resources")!, /^cpus: 2x2(\n|$)/);
  assert.equal(rows.get("Time Limit"), "None");
  assert.equal(rows.get("Process pid"), String(worker.pid));
  assert.equal(rows.get("Group"), "default");
  assert.equal(rows.get("Manager"), "None");
  assert.equal(rows.get("Manager Job ID"), "N/A");
  assert.equal(rows.get("Last task started"), "");
  assert.equal(rows.get("Runtime Info"), "assigned tasks: 0");
});

Deno.test("worker start prints its own info once registered: a table, a JSON array, or nothing", async () => {
  await using server = await TestServer.start();
  await using cli = server.startWorker(["--hostname", "cli-node", "--cpus", "1"]);
  await using json = server.startWorker([
    "--hostname",
    "json-node",
    "--cpus",
    "1",
    "--output-mode",
    "json",
  ]);
  await using quiet = server.startWorker([
    "--hostname",
    "quiet-node",
    "--cpus",
    "1",
    "--output-mode",
    "quiet",
  ]);
  await waitUntil(async () => {
    const states = await server.workerStates();
    return states.size === 3 && [...states.values()].every((state) => state === "RUNNING");
  }, { what: "three running workers" });

  const rows = infoTable(await waitUntil(() => cli.stdout() || undefined));
  assert.deepEqual([...rows.keys()], INFO_LABELS, "no Runtime Info in the worker's own printout");
  assert.equal(rows.get("Hostname"), "cli-node");
  assert.equal(rows.get("State"), "RUNNING");
  assert.equal(cli.stdout().split("\n").filter((line) => /^\| Worker /.test(line)).length, 1);

  const printed = await waitUntil(() => {
    try {
      return JSON.parse(json.stdout());
    } catch {
      return undefined;
    }
  }, { what: "the JSON printout" });
  assert.ok(Array.isArray(printed) && printed.length === 1, json.stdout());
  assert.deepEqual(Object.keys(printed[0]), WORKER_KEYS);
  assert.equal(printed[0].configuration.hostname, "json-node");
  assert.equal(printed[0].ended, null);

  assert.equal(quiet.stdout(), "");
  assert.equal(quiet.exited, false);
});

// --- Lifecycle: every state of spec §5.1 by its real cause ---

Deno.test("worker stop records STOPPED and the worker exits 0; ids start at 1 and are never reused", async () => {
  await using server = await TestServer.start();
  await using first = server.startWorker(["--cpus", "1"]);
  assert.equal(await registeredId(first), 1);
  const stop = await server.hq(["worker", "stop", "1"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout, "");
  assert.match(stop.stderr, /INFO Worker 1 stopped\n/);
  assert.equal((await exitOf(first)).code, 0, first.stderr());
  await server.waitForWorkerState(1, "STOPPED");

  await using second = server.startWorker(["--cpus", "1"]);
  assert.equal(await registeredId(second), 2);
  const quiet = (args: string[]) =>
    server.hqOk(["--output-mode", "quiet", "worker", "list", ...args]);
  assert.equal(await quiet(["--all"]), "1 STOPPED\n2 RUNNING\n");
  assert.equal(await quiet([]), "2 RUNNING\n");
  assert.equal(await quiet(["--filter", "offline"]), "1 STOPPED\n");
  const all = tableRows(await server.hqOk(["worker", "list", "--all"]));
  assert.deepEqual(all.slice(1).map((row) => row.slice(0, 2)), [
    ["1", "STOPPED"],
    ["2", "RUNNING"],
  ]);
  const [ended] = JSON.parse(
    await server.hqOk(["worker", "info", "1", "--output-mode", "json"]),
  );
  assert.deepEqual(Object.keys(ended.ended), ["at"], "the reason is not in the JSON");
  assert.match(ended.ended.at, TIMESTAMP);
  assert.equal(ended.runtime_info, null);
});

Deno.test("a worker with --idle-timeout 1s ends as IDLE TIMEOUT and exits 0", async () => {
  await using server = await TestServer.start();
  await using worker = server.startWorker(["--cpus", "1", "--idle-timeout", "1s"]);
  const id = await registeredId(worker);
  assert.equal(infoTable(worker.stdout()).get("Idle timeout"), "1s");
  await server.waitForWorkerState(id, "IDLE TIMEOUT", { timeoutMs: 10_000 });
  assert.equal((await exitOf(worker)).code, 0, worker.stderr());
});

Deno.test("the server's --idle-timeout is a worker's effective idle timeout unless it sets its own", async () => {
  await using server = await TestServer.start({ args: ["--idle-timeout", "2s"] });
  await using own = server.startWorker(["--cpus", "1", "--idle-timeout", "5m"]);
  const ownId = await registeredId(own);
  await using inherited = server.startWorker(["--cpus", "1"]);
  const id = await registeredId(inherited);
  assert.equal(infoTable(inherited.stdout()).get("Idle timeout"), "2s", "the worker's printout");

  const info = await server.hq(["worker", "info", String(id)]);
  assert.equal(infoTable(info.stdout).get("Idle timeout"), "2s");
  const [json] = JSON.parse(
    await server.hqOk(["worker", "info", String(id), "--output-mode", "json"]),
  );
  assert.equal(json.configuration.idle_timeout, 2);
  const ownInfo = await server.hq(["worker", "info", String(ownId)]);
  assert.equal(infoTable(ownInfo.stdout).get("Idle timeout"), "5m");

  await server.waitForWorkerState(id, "IDLE TIMEOUT", { timeoutMs: 10_000 });
  assert.equal((await exitOf(inherited)).code, 0, inherited.stderr());
  assert.equal((await server.workerStates()).get(ownId), "RUNNING");
});

Deno.test("a worker with --time-limit 2s ends as TIME LIMIT REACHED and exits 0", async () => {
  await using server = await TestServer.start();
  await using worker = server.startWorker(["--cpus", "1", "--time-limit", "2s"]);
  const id = await registeredId(worker);
  assert.equal(infoTable(worker.stdout()).get("Time Limit"), "2s");
  const [json] = JSON.parse(
    await server.hqOk(["worker", "info", String(id), "--output-mode", "json"]),
  );
  assert.equal(json.configuration.time_limit, 2);
  await server.waitForWorkerState(id, "TIME LIMIT REACHED", { timeoutMs: 10_000 });
  assert.equal((await exitOf(worker)).code, 0, worker.stderr());
});

Deno.test("a 1-CPU worker running a 2-task array shows 'assigned tasks: 1; running tasks: 1': its prefilled task is not assigned", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using _worker = server.startWorker(["--cpus", "1"]);
  await server.waitForWorkerState(1, "RUNNING");
  await submitJob(server, ["--array", "1-2", "--", "sleep", "30"], { cwd: cwd.path });
  const runtimeInfo = async () =>
    infoTable(await server.hqOk(["worker", "info", "1"])).get("Runtime Info");
  await waitUntil(async () => (await runtimeInfo())?.includes("running tasks: 1"), {
    what: "the first task to run",
  });
  assert.equal(await runtimeInfo(), "assigned tasks: 1; running tasks: 1");
  const [json] = JSON.parse(await server.hqOk(["worker", "info", "1", "--output-mode", "json"]));
  assert.deepEqual(json.runtime_info, {
    SingleNodeTasks: { assigned_tasks: 1, is_reserved: false, running_tasks: 1 },
  });
  await server.hqOk(["job", "cancel", "1"]);
});

Deno.test("tasks whose --time-request no longer fits go back to the server: the worker idles and its --idle-timeout ends it", async () => {
  await using cwd = await tempDir();
  await using server = await TestServer.start();
  await using worker = server.startWorker([
    "--cpus",
    "2",
    "--time-limit",
    "20s",
    "--idle-timeout",
    "1s500ms",
  ]);
  const id = await registeredId(worker);
  const startedMs = Date.now();
  await submitJob(server, ["--array", "1-20", "--time-request", "18s500ms", "--", "sleep", "1"], {
    cwd: cwd.path,
  });
  await server.waitForWorkerState(id, "IDLE TIMEOUT", { timeoutMs: 15_000 });
  assert.equal((await exitOf(worker)).code, 0, worker.stderr());
  const tookMs = Date.now() - startedMs;
  assert.ok(tookMs < 8_000, `the worker ended after ${tookMs} ms`);
  const tasks = await taskObjects(server, 1);
  const finished = tasks.filter((task) => task.state === "finished").length;
  assert.ok(finished >= 2 && finished < 20, `${finished} tasks finished`);
  assert.equal(tasks.filter((task) => task.state === "waiting").length, 20 - finished);
});

Deno.test("SIGKILL, SIGINT, SIGTERM and SIGTSTP make a worker CONNECTION LOST; all but SIGKILL exit 0", async () => {
  await using server = await TestServer.start();
  const signals = ["SIGKILL", "SIGINT", "SIGTERM", "SIGTSTP"] as const;
  await using workers = new AsyncDisposableStack();
  const processes = signals.map(() => workers.use(server.startWorker(["--cpus", "1"])));
  const ids = await Promise.all(processes.map(registeredId));
  processes.forEach((worker, i) => worker.kill(signals[i]));
  for (const id of ids) await server.waitForWorkerState(id, "CONNECTION LOST");
  const [killed, ...graceful] = processes;
  assert.equal((await exitOf(killed)).signal, "SIGKILL");
  for (const worker of graceful) {
    assert.equal((await exitOf(worker)).code, 0, worker.stderr());
  }
});

Deno.test("a SIGSTOPped worker with --heartbeat 500ms is HEARTBEAT LOST within 2 s, and ends after SIGCONT", async () => {
  await using server = await TestServer.start();
  await using worker = server.startWorker(["--cpus", "1", "--heartbeat", "500ms"]);
  const id = await registeredId(worker);
  worker.kill("SIGSTOP");
  const stoppedAt = performance.now();
  let elapsedMs = Infinity;
  try {
    await waitUntil(async () => (await server.workerStates()).get(id) === "HEARTBEAT LOST", {
      timeoutMs: 10_000,
      intervalMs: 0,
      what: "HEARTBEAT LOST",
    });
    elapsedMs = performance.now() - stoppedAt;
  } finally {
    worker.kill("SIGCONT");
  }
  assert.ok(
    elapsedMs < 2_000,
    `HEARTBEAT LOST was first listed ${Math.round(elapsedMs)} ms after SIGSTOP`,
  );
  // The server dropped the connection, so the resumed worker finds its server lost.
  const status = await exitOf(worker);
  assert.equal(status.code, 1, worker.stderr());
  assert.equal((await server.workerStates()).get(id), "HEARTBEAT LOST", "the reason never changes");
});

Deno.test("when the server stops, workers exit 1 with 'Server connection closed' under either --on-server-lost", async () => {
  await using server = await TestServer.start();
  await using stopping = server.startWorker(["--cpus", "1", "--on-server-lost", "stop"]);
  await using finishing = server.startWorker(["--cpus", "1", "--on-server-lost", "finish-running"]);
  await Promise.all([registeredId(stopping), registeredId(finishing)]);
  await server.hqOk(["server", "stop"]);
  for (const worker of [stopping, finishing]) {
    assert.equal((await exitOf(worker)).code, 1, worker.stderr());
    assert.match(worker.stderr(), /Server connection closed/);
  }
});

// --- stop, info, address, wait ---

Deno.test("worker stop all stops every running worker; unknown and offline ids are only logged", async () => {
  await using server = await TestServer.start();
  await using a = server.startWorker(["--cpus", "1"]);
  await using b = server.startWorker(["--cpus", "1"]);
  await using c = server.startWorker(["--cpus", "1"]);
  const workers = [a, b, c];
  await Promise.all(workers.map(registeredId));

  const all = await server.hq(["worker", "stop", "all"]);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stdout, "");
  for (const id of [1, 2, 3]) assert.match(all.stderr, new RegExp(`INFO Worker ${id} stopped\n`));
  for (const worker of workers) assert.equal((await exitOf(worker)).code, 0, worker.stderr());
  for (const id of [1, 2, 3]) await server.waitForWorkerState(id, "STOPPED");

  const offline = await server.hq(["worker", "stop", "2"]);
  assert.equal(offline.code, 0);
  assert.match(offline.stderr, /WARN Stopping worker 2 failed; worker is already stopped\n/);
  const unknown = await server.hq(["worker", "stop", "99"]);
  assert.equal(unknown.code, 0);
  assert.match(unknown.stderr, /ERROR Stopping worker 99 failed; worker not found\n/);
  const none = await server.hq(["worker", "stop", "all", "--output-mode", "json"]);
  assert.equal(none.code, 0);
  assert.deepEqual(JSON.parse(none.stdout), {});
});

Deno.test("worker info logs unknown ids and exits 0; worker address prints the hostname", async () => {
  await using server = await TestServer.start();
  await using worker = server.startWorker(["--cpus", "1", "--hostname", "addr-node"]);
  const id = await registeredId(worker);

  const unknown = await server.hq(["worker", "info", "99"]);
  assert.equal(unknown.code, 0);
  assert.equal(unknown.stdout, "");
  assert.match(unknown.stderr, /ERROR Worker 99 not found\n/);
  const mixed = await server.hq(["worker", "info", `${id},99`, "--output-mode", "json"]);
  assert.equal(mixed.code, 0);
  assert.deepEqual(JSON.parse(mixed.stdout).map((w: { id: number }) => w.id), [id]);

  assert.equal(
    await server.hqOk(["worker", "address", String(id)]),
    "addr-node\n",
  );
  const json = await server.hq(["worker", "address", String(id), "--output-mode", "json"]);
  assert.equal(json.code, 0);
  const [hostname, ...rest] = json.stdout.split("\n");
  assert.equal(hostname, "addr-node");
  assert.deepEqual(JSON.parse(rest.join("\n")), {});

  await server.hqOk(["worker", "stop", String(id)]);
  await server.waitForWorkerState(id, "STOPPED");
  assert.equal(
    await server.hqOk(["worker", "address", String(id)]),
    "addr-node\n",
    "works for offline workers",
  );
  const missing = await server.hq(["worker", "address", "7"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Worker 7 not found/);
});

Deno.test("worker wait 2 returns once two workers run", async () => {
  await using server = await TestServer.start();
  await using logs = await tempDir();
  await using waiter = new HqProcess(["worker", "wait", "2", "--server-dir", server.dir], {
    logDir: logs.path,
  });
  await using first = server.startWorker(["--cpus", "1"]);
  await registeredId(first);
  // `worker wait` polls every second; give it a poll to (wrongly) return.
  const deadline = Date.now() + 1_500;
  while (Date.now() < deadline) {
    assert.equal(waiter.exited, false, `worker wait returned with one worker: ${waiter.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await using second = server.startWorker(["--cpus", "1"]);
  await registeredId(second);
  const status = await exitOf(waiter, 10_000);
  assert.equal(status.code, 0, waiter.stderr());
  assert.equal(waiter.stdout(), "");
});

// --- Usage errors ---

Deno.test("bad worker options are usage errors; --cpus with --resource cpus is refused", async () => {
  await using server = await TestServer.start();
  const usage: Array<[string[], RegExp]> = [
    [["worker", "list", "--all", "--filter", "running"], /'--all' cannot be used with/],
    [["worker", "start", "--cpus", "foo"], /invalid value 'foo' for '--cpus/],
    [["worker", "start", "--cpus", "2x"], /invalid value '2x' for '--cpus/],
    [["worker", "start", "--cpus", "0"], /CPUs must have identity/],
    [["worker", "start", "--cpus", "sum(4)"], /CPUs must have identity/],
    [["worker", "start", "--resource", "gpus"], /invalid value 'gpus' for '--resource/],
    [["worker", "start", "--resource", "gpus=foo(1)"], /invalid value 'gpus=foo\(1\)'/],
    [["worker", "start", "--resource", "=[0,1]"], /invalid value '=\[0,1\]' for '--resource/],
    [
      ["worker", "start", "--min-utilization", "2"],
      /Minimal utilization has to be in the interval \[0\.0, 1\.0\]\./,
    ],
    [["worker", "start", "--heartbeat", "100ms"], /invalid value '100ms' for '--heartbeat/],
  ];
  const results = await Promise.all(usage.map(([args]) => server.hq(args)));
  results.forEach((result, i) => assertUsageError(result, usage[i][1]));

  const both = await server.hq(["worker", "start", "--cpus", "2", "--resource", "cpus=[0,1]"]);
  assert.equal(both.code, 1, both.stderr);
  assert.match(both.stderr, /--cpus and --resource cpus=\.\.\. cannot be combined/);
  const list = await server.hqOk(["worker", "list", "--all"]);
  assert.equal(list.split("\n").length, 4, `no worker registered, only the header:\n${list}`);
});

// --- Scale ---

Deno.test("64 workers on one server: worker list answers in under 1 s, and stop all ends them", async () => {
  await using server = await TestServer.start();
  await using workers = new AsyncDisposableStack();
  const processes = Array.from(
    { length: 64 },
    () => workers.use(server.startWorker(["--cpus", "1"])),
  );
  await waitUntil(async () => {
    const dead = processes.find((worker) => worker.exited);
    if (dead) throw new Error(`A worker exited early:\n${dead.stderr()}`);
    return (await server.workerStates()).size === 64;
  }, { timeoutMs: 60_000, intervalMs: 500, what: "64 workers to register" });

  const started = performance.now();
  const list = await server.hq(["worker", "list"]);
  const elapsedMs = performance.now() - started;
  assert.equal(list.code, 0, list.stderr);
  assert.ok(elapsedMs < 1_000, `worker list took ${Math.round(elapsedMs)} ms`);
  const rows = tableRows(list.stdout).slice(1);
  assert.equal(rows.length, 64);
  assert.deepEqual(rows.map((row) => Number(row[0])), range(1, 64));
  assert.ok(rows.every((row) => row[1] === "RUNNING"));

  const stop = await server.hq(["worker", "stop", "all"]);
  assert.equal(stop.code, 0, stop.stderr);
  const statuses = await Promise.all(processes.map((worker) => exitOf(worker, 30_000)));
  assert.deepEqual(statuses.map((status) => status.code), processes.map(() => 0));
  const states = await server.workerStates();
  assert.equal(states.size, 64);
  assert.ok([...states.values()].every((state) => state === "STOPPED"), [...states].join());
});
