/**
 * One suite for the contract every AllocationManager keeps (STYLE §7), run against the real Slurm
 * and the PBS stand-in by `slurm_manager_test.ts` and `pbs_manager_test.ts`. Allocations start a
 * fake `hq` (a bash script) instead of a worker, so a job's life is short and under our control.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { QueueParams } from "../../common/autoalloc.ts";
import { joinPath } from "../../common/paths.ts";
import { waitUntil } from "../../tests/harness.ts";
import { JOB_ID_FILE, submitAllocation } from "./allocation_dir.ts";
import type { AllocationManager, ManagerPollResult } from "./allocation_manager.ts";
import { queueParams } from "../../common/_test_queue_params.ts";

/** A temporary place to submit from; cancels whatever it submitted when disposed. */
export class ManagerFixture implements AsyncDisposable {
  readonly #submitted: Array<{ id: string; dir: string }> = [];
  #attempt = 0;

  constructor(
    readonly manager: AllocationManager,
    readonly root: string,
    readonly onDispose: () => Promise<void> = () => Promise.resolve(),
  ) {}

  /**
   * Submits an allocation of queue 1 whose worker line runs `body` (bash) instead of a worker;
   * the fake hq appends its arguments to `calls` first.
   */
  async submit(
    body: string,
    options: { workerCount?: number; params?: Partial<QueueParams>; dryRun?: boolean } = {},
  ): Promise<{ id: string; dir: string; calls: string }> {
    const attempt = ++this.#attempt;
    const hqPath = joinPath(this.root, `hq-${attempt}`);
    const calls = joinPath(this.root, `calls-${attempt}`);
    await Deno.writeTextFile(hqPath, `#!/bin/bash\necho "$@" >> '${calls}'\n${body}\n`, {
      mode: 0o755,
    });
    const { allocationId, dir } = await submitAllocation({
      manager: this.manager,
      autoallocRoot: joinPath(this.root, "autoalloc"),
      queueId: 1,
      params: queueParams({ manager: this.manager.name, timeLimitMs: 60_000, ...options.params }),
      attempt,
      workerCount: options.workerCount ?? 1,
      hqPath,
      serverDir: "/srv/hq/001",
      rustLog: null,
      dryRun: options.dryRun,
    });
    this.#submitted.push({ id: allocationId, dir });
    return { id: allocationId, dir, calls };
  }

  async status(id: string, cwd: string): Promise<ManagerPollResult> {
    const results = await this.manager.poll([id], cwd);
    const result = results.get(id);
    if (result === undefined) throw new Error(`poll gave no result for ${id}`);
    return result;
  }

  /** Polls every 200 ms until `accept` takes the status. */
  async waitFor(
    id: string,
    cwd: string,
    accept: (status: ManagerPollResult) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<ManagerPollResult> {
    let last: ManagerPollResult | null = null;
    try {
      return await waitUntil(async () => {
        last = await this.status(id, cwd);
        return accept(last) ? last : undefined;
      }, { timeoutMs, intervalMs: 200, what: `${what} (job ${id})` });
    } catch (error) {
      throw new Error(`${(error as Error).message}; last status: ${JSON.stringify(last)}`);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const { id, dir } of this.#submitted) {
      await this.manager.cancel(id, dir).catch(() => {}); // Finished ones refuse: fine.
    }
    await this.onDispose();
    await Deno.remove(this.root, { recursive: true }).catch(() => {});
  }
}

const isFinished = (status: ManagerPollResult) => status.kind === "finished";

/** Registers the shared tests; `fixture()` gives a fresh fixture per test. */
export function managerContractTests(
  label: string,
  options: { ignore: boolean; fixture: () => Promise<ManagerFixture> },
): void {
  const test = (name: string, fn: (fixture: ManagerFixture) => Promise<void>) =>
    Deno.test({
      name: `${label}: ${name}`,
      ignore: options.ignore,
      fn: async () => {
        await using fixture = await options.fixture();
        await fn(fixture);
      },
    });

  test("an allocation runs the worker line, reports running, then finishes OK with its times", async (f) => {
    const { id, dir, calls } = await f.submit("sleep 2");
    equal(await Deno.readTextFile(joinPath(dir, JOB_ID_FILE)), id);
    await f.waitFor(id, dir, (s) => s.kind === "running", "the allocation to run");
    const finished = await f.waitFor(id, dir, isFinished, "the allocation to finish");
    if (finished.kind !== "finished") throw new Error("unreachable");
    equal(finished.failed, false);
    ok(finished.startedMs !== null && finished.endedMs !== null, JSON.stringify(finished));
    ok(finished.startedMs <= finished.endedMs);
    // Times are local without a zone: a wrong zone would be hours off.
    ok(Math.abs(finished.endedMs - Date.now()) < 60_000, `ended at ${finished.endedMs}`);
    equal(
      await Deno.readTextFile(calls),
      `worker start --idle-timeout 5m --manager ${f.manager.name} --server-dir /srv/hq/001 --on-server-lost finish-running --time-limit 1h\n`,
    );
    // The manager wrote the allocation's output where the directives said.
    await Deno.stat(joinPath(dir, "stdout"));
  });

  test("an allocation whose worker line fails finishes failed", async (f) => {
    const { id, dir } = await f.submit("exit 3");
    const finished = await f.waitFor(id, dir, isFinished, "the allocation to finish");
    deepEqual(finished.kind === "finished" && finished.failed, true);
  });

  test("a canceled running allocation finishes failed", async (f) => {
    const { id, dir } = await f.submit("sleep 60");
    await f.waitFor(id, dir, (s) => s.kind === "running", "the allocation to run");
    await f.manager.cancel(id, dir);
    const finished = await f.waitFor(id, dir, isFinished, "the canceled allocation to finish");
    deepEqual(finished.kind === "finished" && finished.failed, true);
  });

  test("an allocation of two nodes starts one worker on each", async (f) => {
    const { id, dir, calls } = await f.submit("sleep 1", { workerCount: 2 });
    const finished = await f.waitFor(id, dir, isFinished, "the 2-node allocation to finish");
    deepEqual(finished.kind === "finished" && finished.failed, false);
    const lines = (await Deno.readTextFile(calls)).trimEnd().split("\n");
    equal(lines.length, 2);
    ok(lines.every((line) => line.startsWith("worker start --idle-timeout 5m")), lines.join("\n"));
  });

  test("one poll reports several allocations", async (f) => {
    const first = await f.submit("sleep 60");
    const second = await f.submit("exit 0");
    await f.waitFor(second.id, second.dir, isFinished, "the second allocation to finish");
    await f.waitFor(first.id, first.dir, (s) => s.kind === "running", "the first one to run");
    const results = await f.manager.poll([first.id, second.id], first.dir);
    equal(results.get(first.id)?.kind, "running");
    equal(results.get(second.id)?.kind, "finished");
  });
}
