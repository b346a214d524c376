/**
 * The chaos run (issue 15): a seeded run of a server with a journal, several workers and clients
 * submitting arrays and task graphs, cancelling, forgetting, waiting and pruning, while a driver
 * SIGKILLs and restarts the server, SIGKILLs and SIGSTOPs workers, kills clients mid-request and
 * fills the journal's disk. Then it settles (every worker thawed, the disk freed, the server
 * restarted once more) and checks:
 *
 * - every acknowledged submit exists (listed, or forgotten on request, or completed and so dropped
 *   by a restore);
 * - every task of every surviving job ends in a terminal state, finished ones exactly once in the
 *   journal; a task runs again only with a higher instance id (in the tasks' own log and in the
 *   journal);
 * - no task process outlives its worker;
 * - the server recovers once the journal's disk has room again;
 * - the server's RSS returns to within 50 MB of its start after everything is forgotten (big
 *   arrays and thousands of abandoned `job wait`s included).
 *
 * `HQ_CHAOS_SECONDS` sets the length of the chaos phase (default 20, the CI size);
 * `HQ_CHAOS_SEED` replays a run (the seed is printed at the start and in every failure; default 1,
 * `random` for a new one each run).
 */
import assert from "node:assert/strict";
import { HqClient } from "../../client/mod.ts";
import { buildJobSubmits, type JobDefinition } from "../../client/job_definition.ts";
import type { ClientRequest, ServerResponse } from "../../common/protocol.ts";
import { seededRandom } from "../../common/seeded_random.ts";
import { expandJobDetail } from "../../common/task_columns.ts";
import { HqProcess, tempDir, waitUntil } from "../harness.ts";
import {
  canMountTmpfs,
  FaultServer,
  journalRecords,
  mountTmpfs,
} from "./../faults/_fault_harness.ts";

const SECONDS = Number(Deno.env.get("HQ_CHAOS_SECONDS") ?? "20");
// A fixed seed by default, so CI replays one known run; `HQ_CHAOS_SEED=random` explores.
const SEED_TEXT = Deno.env.get("HQ_CHAOS_SEED") ?? "1";
const SEED = SEED_TEXT === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(SEED_TEXT);
const WORKERS = 3;
const RSS_SLACK_KB = 50 * 1024;
/** A start just before the disk filled may not have been flushed yet (flush period 500 ms). */
const FLUSH_MARGIN_S = 1;
/** Abandoned `job wait`s sent at the end: leaked, they would hold tens of MB. */
const ABANDONED_WAITS = 20_000;

const canMount = await canMountTmpfs();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return match ? Number(match[1]) : 0;
}

/** Pids of live processes whose environment holds `marker` (`KEY=VALUE`). */
function processesWithEnv(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const environ = Deno.readTextFileSync(`/proc/${entry.name}/environ`).split("\0");
      const state = /State:\s+(\w)/.exec(Deno.readTextFileSync(`/proc/${entry.name}/status`));
      if (environ.includes(marker) && state?.[1] !== "Z") pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

interface Submitted {
  id: number;
  kind: "array" | "graph" | "big";
  taskIds: number[];
}

class Chaos {
  readonly random = seededRandom(SEED);
  readonly run = crypto.randomUUID().slice(0, 8);
  readonly history: string[] = [];
  readonly violations: string[] = [];
  readonly acknowledged = new Map<number, Submitted>();
  /** Jobs a cancel was sent for (answered or not). */
  readonly cancelTried = new Set<number>();
  readonly forgotten = new Set<number>();
  readonly workers: Array<{ tag: string; process: HqProcess; stopped: boolean }> = [];
  /** Tags of workers that are gone, with when they went, to look for their tasks later. */
  readonly goneWorkers: Array<{ tag: string; at: number }> = [];
  readonly inFlight = new Set<Promise<void>>();
  server: FaultServer | null = null;
  /**
   * When the server was SIGKILLed and when the next one answered (seconds since the epoch): a
   * worker may still start what it was sent in between, before it finds the server gone.
   */
  readonly serverKills: Array<{ at: number; restartedAt: number }> = [];
  serverStartRssKb = 0;
  diskFull = false;
  /** Tasks that started again with an instance id they had had, across a crash on a full disk. */
  repeatedOnFullDisk = 0;
  /**
   * Tasks that started again with a lower instance id on a worker just thawed from SIGSTOP: it
   * starts what it had queued before it learns that the server gave those tasks away (known;
   * see the closing note of the session that tightened this check).
   */
  repeatedByThawedWorker = 0;
  /** When SIGSTOPped workers were continued (seconds since the epoch). */
  readonly thawedAt: number[] = [];
  /** When the journal's disk was full (seconds since the epoch; `to` Infinity while it is). */
  readonly diskFullSpans: Array<{ from: number; to: number }> = [];
  #workerCount = 0;
  #t0 = Date.now();

  constructor(
    readonly dir: string,
    readonly journal: string,
    readonly disk: { path: string } | null,
  ) {}

  get serverDir() {
    return `${this.dir}/server`;
  }
  get logDir() {
    return `${this.dir}/logs`;
  }
  get taskLog() {
    return `${this.dir}/tasks.log`;
  }

  note(text: string) {
    this.history.push(`${((Date.now() - this.#t0) / 1000).toFixed(2)}s ${text}`);
  }

  violation(text: string) {
    this.note(`VIOLATION ${text}`);
    this.violations.push(text);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  int(from: number, to: number): number {
    return from + Math.floor(this.random() * (to - from + 1));
  }

  // --- Server and workers ---

  async startServer(): Promise<void> {
    const options = {
      serverDir: this.serverDir,
      logDir: this.logDir,
      journalPath: this.journal,
      args: ["--journal-flush-period", "500ms"],
    };
    try {
      this.server = await FaultServer.start(options);
    } catch (error) {
      if (!this.diskFull) throw error;
      // Starting on a full disk may fail; it must succeed once there is room.
      this.note(`server start on a full disk failed: ${String(error).split("\n")[0]}`);
      await this.freeDisk();
      this.server = await FaultServer.start(options);
    }
    this.serverStartRssKb = rssKb(this.server.process.pid);
    const kill = this.serverKills.at(-1);
    if (kill && kill.restartedAt === Infinity) kill.restartedAt = Date.now() / 1000;
    this.note(`server started (pid ${this.server.process.pid}, ${this.serverStartRssKb} kB)`);
  }

  async killServer(): Promise<void> {
    if (this.server === null) return;
    this.note("SIGKILL server");
    this.serverKills.push({ at: Date.now() / 1000, restartedAt: Infinity });
    await this.server.kill();
    this.server = null;
  }

  startWorker(): void {
    if (this.server === null) return;
    const tag = `${this.run}-${++this.#workerCount}`;
    const process = this.server.startWorker(["--cpus", "2", "--heartbeat", "1s"], {
      CHAOS_WORKER: tag,
    });
    this.workers.push({ tag, process, stopped: false });
    this.note(`worker ${tag} started`);
  }

  /** Forgets workers that exited, thawing none, and starts new ones up to `WORKERS`. */
  tendWorkers(): void {
    for (let i = this.workers.length - 1; i >= 0; i--) {
      const worker = this.workers[i];
      if (!worker.process.exited) continue;
      this.workers.splice(i, 1);
      this.goneWorkers.push({ tag: worker.tag, at: Date.now() });
      this.note(`worker ${worker.tag} exited`);
    }
    while (this.server !== null && this.workers.length < WORKERS) this.startWorker();
  }

  /** A worker gone for 3 s must have left no task process behind. */
  checkOrphans(all = false): void {
    for (let i = this.goneWorkers.length - 1; i >= 0; i--) {
      const gone = this.goneWorkers[i];
      if (!all && Date.now() - gone.at < 3_000) continue;
      this.goneWorkers.splice(i, 1);
      const left = processesWithEnv(`CHAOS_WORKER=${gone.tag}`);
      if (left.length > 0) {
        this.violation(`task processes ${left} outlived worker ${gone.tag}`);
        for (const pid of left) Deno.kill(pid, "SIGKILL");
      }
    }
  }

  // --- The journal's disk ---

  async fillDisk(): Promise<void> {
    if (this.disk === null || this.diskFull) return;
    this.note("filling the journal's disk");
    this.diskFullSpans.push({ from: Date.now() / 1000, to: Infinity });
    using file = await Deno.open(`${this.disk.path}/fill`, { write: true, create: true });
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) await file.write(chunk);
    } catch (error) {
      if (!/No space left/.test(String(error))) throw error;
    }
    this.diskFull = true;
  }

  async freeDisk(): Promise<void> {
    if (this.disk === null || !this.diskFull) return;
    await Deno.remove(`${this.disk.path}/fill`);
    this.diskFull = false;
    this.diskFullSpans.at(-1)!.to = Date.now() / 1000;
    this.note("freed the journal's disk");
    if (this.server === null) return;
    // The server must take modifying requests again soon after.
    const recovered = await waitUntil(async () => {
      const result = await this.request(this.arrayRequest(1, "after-disk-full"));
      return result?.type === "job-created" ? result : undefined;
    }, { timeoutMs: 10_000, intervalMs: 250 }).catch(() => null);
    if (recovered === null) {
      this.violation("the server refused submits 10 s after the disk was freed");
    } else {this.acknowledged.set(recovered.jobId, {
        id: recovered.jobId,
        kind: "array",
        taskIds: [1],
      });}
  }

  // --- Clients ---

  /**
   * Sends `request` on a fresh connection; with `abandonAfterMs`, closes the connection after
   * that long whether answered or not (a client killed mid-request). Null when not answered.
   */
  async request(
    request: ClientRequest,
    abandonAfterMs?: number,
  ): Promise<ServerResponse | null> {
    let client: HqClient;
    try {
      client = await HqClient.connect({ serverDir: this.serverDir, timeoutMs: 3_000 });
    } catch {
      return null;
    }
    try {
      const answer = client.request(request).catch(() => null);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), abandonAfterMs ?? 20_000);
      });
      try {
        return await Promise.race([answer, limit]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      client.close();
    }
  }

  script(sleepSeconds: number): string[] {
    return [
      "bash",
      "-c",
      `echo "s $HQ_JOB_ID $HQ_TASK_ID $HQ_INSTANCE_ID $CHAOS_WORKER $EPOCHREALTIME" >> '${this.taskLog}'; ` +
      `sleep ${sleepSeconds}; ` +
      `echo "e $HQ_JOB_ID $HQ_TASK_ID $HQ_INSTANCE_ID $CHAOS_WORKER $EPOCHREALTIME" >> '${this.taskLog}'`,
    ];
  }

  /** With `unfit`, its tasks ask for 64 CPUs, which no worker has: they wait until cancelled. */
  arrayRequest(count: number, name: string, sleepSeconds = 0.05, unfit = false): ClientRequest {
    return this.definitionRequest({
      name,
      array: {
        ...(unfit ? { request: [{ resources: { cpus: 64 } }] } : {}),
        command: this.script(sleepSeconds),
        ids: `1-${count}`,
        env: { CHAOS_RUN: this.run },
        stdout: "none",
        stderr: "none",
        crash_limit: "unlimited",
      },
    });
  }

  definitionRequest(definition: JobDefinition): ClientRequest {
    const { name, maxFails, submits } = buildJobSubmits(definition, { submitDir: this.dir });
    return { type: "submit-graph", jobId: null, name, maxFails, submits };
  }

  graphDefinition(): { definition: JobDefinition; taskIds: number[] } {
    const count = this.int(2, 12);
    const task = [];
    for (let id = 0; id < count; id++) {
      const deps = [];
      for (let dep = 0; dep < id; dep++) if (this.random() < 0.3) deps.push(dep);
      task.push({
        id,
        deps,
        command: this.script(this.pick([0, 0.05, 0.2])),
        env: { CHAOS_RUN: this.run },
        stdout: "none",
        stderr: "none",
        crash_limit: "unlimited",
      });
    }
    return { definition: { name: "graph", task }, taskIds: task.map((t) => t.id) };
  }

  async submit(kind: Submitted["kind"], abandon: boolean): Promise<void> {
    let request: ClientRequest;
    let taskIds: number[];
    if (kind === "graph") {
      const graph = this.graphDefinition();
      request = this.definitionRequest(graph.definition);
      taskIds = graph.taskIds;
    } else {
      const count = kind === "big" ? this.int(100_000, 300_000) : this.int(1, 60);
      request = this.arrayRequest(count, kind, this.pick([0, 0.05, 0.3]), kind === "big");
      taskIds = Array.from({ length: count }, (_, i) => i + 1);
    }
    const response = await this.request(request, abandon ? this.int(0, 30) : undefined);
    if (response?.type === "job-created") {
      this.acknowledged.set(response.jobId, { id: response.jobId, kind, taskIds });
      this.note(`${kind} job ${response.jobId} of ${taskIds.length} tasks acknowledged`);
    } else {
      this.note(`${kind} submit ${abandon ? "abandoned" : "refused"}: ${describe(response)}`);
    }
  }

  async cancel(abandon: boolean): Promise<void> {
    const ids = [...this.acknowledged.keys()];
    if (ids.length === 0) return;
    const id = this.pick(ids);
    this.cancelTried.add(id);
    const response = await this.request({
      type: "job-cancel",
      selector: { type: "ids", ranges: [[id, id, 1]] },
      reason: null,
    }, abandon ? this.int(0, 30) : undefined);
    this.note(`cancel ${id}: ${describe(response)}`);
  }

  async forget(): Promise<void> {
    const ids = [...this.acknowledged.keys()];
    if (ids.length === 0) return;
    const id = this.pick(ids);
    const response = await this.request({
      type: "job-forget",
      selector: { type: "ids", ranges: [[id, id, 1]] },
      states: ["finished", "failed", "canceled", "aborted"],
    });
    if (response?.type === "job-actions") {
      for (const result of response.results) {
        if (result.outcome === "forgotten") this.forgotten.add(result.jobId);
      }
    }
    this.note(`forget ${id}: ${describe(response)}`);
  }

  /** A `job wait` whose client goes away before the job ends. */
  async abandonedWait(): Promise<void> {
    await this.request({ type: "job-wait", selector: { type: "all" }, withoutClose: false }, 50);
    this.note("abandoned a job wait");
  }

  async prune(): Promise<void> {
    const response = await this.request(
      { type: "journal-prune" },
      this.random() < 0.2 ? 10 : undefined,
    );
    this.note(`prune: ${describe(response)}`);
  }

  /** `hq submit` through the CLI, SIGKILLed at a random moment. */
  async killedCliSubmit(): Promise<void> {
    if (this.server === null) return;
    const process = new HqProcess([
      "--server-dir",
      this.serverDir,
      "submit",
      "--array",
      "1-5",
      "--crash-limit",
      "unlimited",
      "--stdout",
      "none",
      "--stderr",
      "none",
      "--env",
      `CHAOS_RUN=${this.run}`,
      ...this.script(0),
    ], { logDir: this.logDir, cwd: this.dir });
    await sleep(this.int(100, 1_500));
    process.kill("SIGKILL");
    await process.status();
    this.note(`killed a cli submit (${process.stdout().trim() || "no output"})`);
  }

  fire(action: () => Promise<void>): void {
    if (this.inFlight.size >= 4) return;
    const running = action().catch((error) => this.violation(`client action threw: ${error}`))
      .finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
  }

  // --- Faults ---

  async step(): Promise<void> {
    this.tendWorkers();
    this.checkOrphans();
    const roll = this.random();
    if (roll < 0.04) {
      await this.killServer();
      await sleep(this.int(0, 500));
      await this.startServer();
    } else if (roll < 0.10) {
      const worker = this.workers.length > 0 ? this.pick(this.workers) : undefined;
      if (worker) {
        this.note(`SIGKILL worker ${worker.tag}`);
        worker.process.kill("SIGCONT");
        worker.process.kill("SIGKILL");
      }
    } else if (roll < 0.14) {
      const worker = this.workers.find((w) => !w.stopped);
      if (worker) {
        this.note(`SIGSTOP worker ${worker.tag}`);
        worker.process.kill("SIGSTOP");
        worker.stopped = true;
        const thawAfter = this.int(500, 4_000);
        setTimeout(() => {
          this.note(`SIGCONT worker ${worker.tag}`);
          worker.process.kill("SIGCONT");
          this.thawedAt.push(Date.now() / 1000);
          worker.stopped = false;
        }, thawAfter);
      }
    } else if (roll < 0.17) {
      if (this.diskFull) await this.freeDisk();
      else await this.fillDisk();
    } else if (roll < 0.20) {
      this.fire(() => this.prune());
    } else if (roll < 0.24) {
      this.fire(() => this.killedCliSubmit());
    } else if (roll < 0.45) {
      this.fire(() => this.submit("array", this.random() < 0.2));
    } else if (roll < 0.62) {
      this.fire(() => this.submit("graph", this.random() < 0.2));
    } else if (roll < 0.65) {
      this.fire(() => this.submit("big", false));
    } else if (roll < 0.78) {
      this.fire(() => this.cancel(this.random() < 0.3));
    } else if (roll < 0.88) {
      this.fire(() => this.forget());
    } else {
      this.fire(() => this.abandonedWait());
    }
    await sleep(this.int(50, 400));
  }

  // --- The end ---

  async settle(): Promise<void> {
    this.note("settling");
    await Promise.all(this.inFlight);
    for (const worker of this.workers) {
      worker.process.kill("SIGCONT");
      worker.stopped = false;
    }
    await this.freeDisk();
    await this.killServer();
    await this.startServer();
    // Big arrays never run: cancel them all.
    const big = [...this.acknowledged.values()].filter((job) => job.kind === "big");
    for (const job of big) {
      this.cancelTried.add(job.id);
      await this.request({
        type: "job-cancel",
        selector: { type: "ids", ranges: [[job.id, job.id, 1]] },
        reason: null,
      });
    }
    await waitUntil(async () => {
      this.tendWorkers();
      const response = await this.request({ type: "job-list" });
      if (response?.type !== "jobs") return false;
      return response.jobs.every((job) => job.counts.waiting === 0 && job.counts.running === 0);
    }, { timeoutMs: 90_000, intervalMs: 500, what: "every job to end" });
  }

  async check(): Promise<void> {
    const response = await this.request({ type: "job-info", selector: { type: "all" } });
    assert.ok(response?.type === "job-details", describe(response));
    const jobs = new Map(response.jobs.map((wire) => [wire.id, expandJobDetail(wire)]));
    const log = await this.readTaskLog();

    for (const submitted of this.acknowledged.values()) {
      const job = jobs.get(submitted.id);
      const ended = (task: number) => log.get(`${submitted.id}:${task}`)?.ends.size ?? 0;
      if (job === undefined) {
        const completed = submitted.taskIds.every((task) => ended(task) > 0);
        if (
          !this.forgotten.has(submitted.id) && !this.cancelTried.has(submitted.id) && !completed
        ) {
          this.violation(`acknowledged job ${submitted.id} is gone, neither forgotten nor done`);
        }
        continue;
      }
      const ids = job.tasks.map((task) => task.id);
      if (ids.join() !== submitted.taskIds.join()) {
        this.violation(
          `job ${submitted.id} has tasks ${ids.length}, submitted ${submitted.taskIds.length}`,
        );
      }
      for (const task of job.tasks) {
        const terminal = ["finished", "canceled", "failed", "aborted"].includes(task.state);
        if (!terminal) this.violation(`task ${submitted.id}:${task.id} ended ${task.state}`);
        if (task.state !== "finished" && !this.cancelTried.has(submitted.id)) {
          this.violation(
            `task ${submitted.id}:${task.id} is ${task.state} (${task.error}) without a cancel`,
          );
        }
        if (task.state === "finished" && ended(task.id) === 0) {
          this.violation(`task ${submitted.id}:${task.id} is finished but never ended`);
        }
      }
    }

    // The tasks' own log: a task starts again only with a higher instance id, also across a
    // server crash: a restore runs a waiting task past every instance the crashed run can have
    // started unjournaled, and lost workers (with the instance ids of the tasks they had not
    // started) are synced at once (README, Journal). Except when the journal's disk was full
    // between the earlier start and the crash: then the crashed run journaled nothing of the
    // start, nor of the losses that raised the instance id, and a restore cannot know of them.
    const diskFullBetween = (from: number, to: number) =>
      this.diskFullSpans.some((span) => span.from < to && span.to > from - FLUSH_MARGIN_S);
    for (const [key, runs] of log) {
      for (let i = 1; i < runs.starts.length; i++) {
        const [before, after] = [runs.starts[i - 1], runs.starts[i]];
        if (after.instance > before.instance) continue;
        const kills = this.serverKills.filter((kill) =>
          before.at < kill.restartedAt && after.at > kill.at
        );
        if (kills.some((kill) => diskFullBetween(before.at, kill.at))) {
          this.repeatedOnFullDisk++;
          continue;
        }
        // The later, lower instance started on a worker thawed in between: a stale start.
        if (kills.length === 0 && this.thawedAt.some((at) => at < after.at && at > before.at - 1)) {
          this.repeatedByThawedWorker++;
          continue;
        }
        this.violation(
          `task ${key} started instances ${runs.starts.map((s) => s.instance).join(",")} ` +
            `(at ${runs.starts.map((s) => s.at).join(",")}; ${kills.length} server kills between)`,
        );
        break;
      }
    }

    // The journal: started instances increase, at most one finish per task.
    const client = await this.server!.connect();
    try {
      await client.request({ type: "journal-flush" });
    } finally {
      client.close();
    }
    const started = new Map<string, number>();
    const finished = new Map<string, number>();
    for (const { event } of await journalRecords(this.journal)) {
      if (event.type === "task-started") {
        const key = `${event.jobId}:${event.taskId}`;
        const last = started.get(key);
        if (last !== undefined && event.instanceId <= last) {
          this.violation(`journal: task ${key} started instance ${event.instanceId} after ${last}`);
        }
        started.set(key, event.instanceId);
      } else if (event.type === "task-finished" || event.type === "task-failed") {
        const key = `${event.jobId}:${event.taskId}`;
        finished.set(key, (finished.get(key) ?? 0) + 1);
      }
    }
    for (const [key, count] of finished) {
      if (count > 1) this.violation(`journal: task ${key} ended ${count} times`);
    }
  }

  async readTaskLog() {
    const text = await Deno.readTextFile(this.taskLog).catch(() => "");
    const tasks = new Map<
      string,
      { starts: Array<{ instance: number; at: number }>; ends: Set<number> }
    >();
    for (const line of text.split("\n")) {
      const [what, job, task, instance, _worker, at] = line.split(" ");
      if (what !== "s" && what !== "e") continue;
      const key = `${job}:${task}`;
      let runs = tasks.get(key);
      if (!runs) tasks.set(key, runs = { starts: [], ends: new Set() });
      if (what === "s") runs.starts.push({ instance: Number(instance), at: Number(at) });
      else runs.ends.add(Number(instance));
    }
    return tasks;
  }

  /** Everything forgotten, thousands of `job wait`s abandoned: RSS back near its start. */
  async checkMemory(): Promise<void> {
    const client = await this.server!.connect();
    try {
      // Sent in one go and abandoned: a leak here holds about 3 KB each.
      for (let i = 0; i < ABANDONED_WAITS; i++) {
        client.request({ type: "job-wait", selector: { type: "all" }, withoutClose: true })
          .catch(() => {});
      }
      await client.request(this.arrayRequest(1, "barrier"));
    } finally {
      client.close();
    }
    await this.request({
      type: "job-forget",
      selector: { type: "all" },
      states: ["finished", "failed", "canceled", "aborted"],
    });
    const pid = this.server!.process.pid;
    let rss = 0;
    const back = await waitUntil(() => {
      rss = rssKb(pid);
      return rss <= this.serverStartRssKb + RSS_SLACK_KB;
    }, { timeoutMs: 15_000, intervalMs: 500 }).catch(() => false);
    this.note(`server RSS ${rss} kB after forget, ${this.serverStartRssKb} kB at its start`);
    if (!back) {
      this.violation(
        `server RSS ${rss} kB after forget, ${this.serverStartRssKb} kB at its start (> 50 MB more)`,
      );
    }
  }

  async stopAll(): Promise<void> {
    for (const worker of this.workers) {
      worker.process.kill("SIGCONT");
      await worker.process.stop("SIGKILL");
      this.goneWorkers.push({ tag: worker.tag, at: Date.now() });
    }
    this.workers.length = 0;
    await sleep(3_000);
    this.checkOrphans(true);
    const left = processesWithEnv(`CHAOS_RUN=${this.run}`);
    if (left.length > 0) {
      this.violation(`task processes ${left} outlived every worker`);
      for (const pid of left) Deno.kill(pid, "SIGKILL");
    }
    await this.server?.kill();
  }
}

function describe(response: ServerResponse | null): string {
  if (response === null) return "no answer";
  if (response.type === "error") return `error: ${response.message.split("\n")[0]}`;
  if (response.type === "job-created") return `job ${response.jobId}`;
  if (response.type === "job-actions") {
    return response.results.map((r) => `${r.jobId} ${r.outcome}`).join(", ");
  }
  return response.type;
}

Deno.test({
  name:
    `chaos run (seed ${SEED}, ${SECONDS} s): acknowledged submits survive, tasks end once, no orphans, memory returns`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    console.log(`chaos seed ${SEED} (replay: HQ_CHAOS_SEED=${SEED} HQ_CHAOS_SECONDS=${SECONDS})`);
    if (!canMount) {
      console.warn(
        "cannot mount a tmpfs here (needs root on Linux): the journal's disk is not filled",
      );
    }
    await using work = await tempDir("hq-chaos-");
    await using disk = canMount ? await mountTmpfs(16 * 1024) : null;
    const journal = `${disk?.path ?? work.path}/journal.bin`;
    const chaos = new Chaos(work.path, journal, disk);
    await Deno.mkdir(chaos.logDir);
    try {
      await chaos.startServer();
      chaos.tendWorkers();
      const end = Date.now() + SECONDS * 1_000;
      while (Date.now() < end) await chaos.step();
      await chaos.settle();
      await chaos.check();
      await chaos.checkMemory();
      await chaos.stopAll();
    } catch (error) {
      chaos.violation(`the run failed: ${error instanceof Error ? error.stack : error}`);
    } finally {
      for (const worker of chaos.workers) {
        worker.process.kill("SIGCONT");
        await worker.process.stop("SIGKILL");
      }
      await chaos.server?.kill();
    }
    if (chaos.violations.length > 0) {
      const kept = `${Deno.env.get("TMPDIR") ?? "/tmp"}/hq-chaos-${SEED}-logs`;
      await new Deno.Command("cp", { args: ["-r", chaos.logDir, kept] }).output();
      await Deno.copyFile(chaos.taskLog, `${kept}/tasks.log`).catch(() => {});
      console.log(`--- chaos history (seed ${SEED}) ---\n${chaos.history.join("\n")}`);
      console.log(`logs kept in ${kept}`);
      assert.fail(
        `chaos seed ${SEED} (replay: HQ_CHAOS_SEED=${SEED} HQ_CHAOS_SECONDS=${SECONDS}):\n` +
          chaos.violations.slice(0, 30).join("\n"),
      );
    }
    console.log(
      `chaos seed ${SEED}: ${chaos.acknowledged.size} acknowledged jobs, ${chaos.history.length} events, ` +
        `${chaos.serverKills.length} server kills, ${chaos.repeatedOnFullDisk} instance ids ` +
        `repeated after a crash on a full journal disk, ${chaos.repeatedByThawedWorker} by a ` +
        "worker thawed from SIGSTOP",
    );
  },
});
