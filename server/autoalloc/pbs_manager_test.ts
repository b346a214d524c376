import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { joinPath } from "../../common/paths.ts";
import { PBS_STAND_IN_DIR } from "../../tests/_batch.ts";
import { waitUntil } from "../../tests/harness.ts";
import { AllocationSubmitError } from "./allocation_manager.ts";
import { managerContractTests, ManagerFixture } from "./_manager_contract.ts";
import { runManagerCommand } from "./manager_command.ts";
import {
  parsePbsDateTime,
  parseQstatStatuses,
  parseQsubJobId,
  pbsJobStatus,
  PbsManager,
} from "./pbs_manager.ts";

Deno.test("parseQsubJobId takes the whole trimmed output", () => {
  equal(parseQsubJobId("1234.pbs01\n"), "1234.pbs01");
  throws(() => parseQsubJobId(" \n"), { message: "Missing job id in qsub output" });
});

Deno.test("parsePbsDateTime reads ctime-like local times, the day zero- or space-padded", () => {
  equal(parsePbsDateTime("Thu Aug 19 13:05:17 2021"), new Date(2021, 7, 19, 13, 5, 17).getTime());
  equal(parsePbsDateTime("Tue Dec 08 00:04:56 2026"), new Date(2026, 11, 8, 0, 4, 56).getTime());
  equal(parsePbsDateTime("Mon Aug  9 01:02:03 2021"), new Date(2021, 7, 9, 1, 2, 3).getTime());
  throws(() => parsePbsDateTime("2021-08-19T13:05:17"));
  throws(() => parsePbsDateTime("Thu Foo 19 13:05:17 2021"));
});

Deno.test("pbsJobStatus maps PBS's job states", () => {
  const stime = "Thu Aug 19 13:05:17 2021";
  const mtime = "Thu Aug 19 14:00:00 2021";
  const times = {
    startedMs: new Date(2021, 7, 19, 13, 5, 17).getTime(),
    endedMs: new Date(2021, 7, 19, 14, 0, 0).getTime(),
  };
  deepEqual(pbsJobStatus({ job_state: "Q" }), { kind: "queued" });
  deepEqual(pbsJobStatus({ job_state: "R", stime }), { kind: "running" });
  deepEqual(pbsJobStatus({ job_state: "E", stime }), { kind: "running" });
  deepEqual(pbsJobStatus({ job_state: "F", stime, mtime, Exit_status: 0 }), {
    kind: "finished",
    failed: false,
    ...times,
  });
  deepEqual(pbsJobStatus({ job_state: "F", stime, mtime, Exit_status: 271 }), {
    kind: "finished",
    failed: true,
    ...times,
  });
  // Deleted while queued: no start, no exit status.
  deepEqual(pbsJobStatus({ job_state: "F", mtime }), {
    kind: "finished",
    failed: true,
    startedMs: null,
    endedMs: times.endedMs,
  });
  deepEqual(pbsJobStatus({ job_state: "H" }), {
    kind: "error",
    message: `Unknown PBS job status "H"`,
  });
  deepEqual(pbsJobStatus({}), { kind: "error", message: "Missing job_state in qstat output" });
  deepEqual(pbsJobStatus({ job_state: "F", stime: "yesterday", Exit_status: 0 }), {
    kind: "error",
    message:
      `Cannot parse stime "yesterday" of qstat output: expected e.g. "Thu Aug 19 13:05:17 2021"`,
  });
});

Deno.test("parseQstatStatuses: a job missing from the answer finished failed just now", () => {
  const output = JSON.stringify({
    timestamp: 1,
    Jobs: { "1.pbs": { job_state: "R" }, "2.pbs": { job_state: "Q" } },
  });
  deepEqual(
    parseQstatStatuses(output, ["1.pbs", "2.pbs", "3.pbs", "constructor"], 5_000),
    new Map([
      ["1.pbs", { kind: "running" }],
      ["2.pbs", { kind: "queued" }],
      ["3.pbs", { kind: "finished", failed: true, startedMs: null, endedMs: 5_000 }],
      ["constructor", { kind: "finished", failed: true, startedMs: null, endedMs: 5_000 }],
    ]),
  );
  // No matching job at all: PBS leaves out the Jobs key.
  deepEqual(
    parseQstatStatuses(`{"timestamp": 1}`, ["1.pbs"], 7),
    new Map([["1.pbs", { kind: "finished", failed: true, startedMs: null, endedMs: 7 }]]),
  );
  const garbage = parseQstatStatuses("qstat: not json", ["1.pbs", "2.pbs"], 7);
  equal(garbage.size, 2);
  ok(
    [...garbage.values()].every((s) =>
      s.kind === "error" && /^Cannot parse qstat output/.test(s.message)
    ),
  );
});

/** The PBS stand-in with a state directory of its own. */
async function pbsFixture(extraEnv: Record<string, string> = {}): Promise<ManagerFixture> {
  const stateDir = await Deno.makeTempDir({ prefix: "hq-mockpbs-state-" });
  const env = {
    PATH: `${PBS_STAND_IN_DIR}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
    MOCKPBS_DIR: stateDir,
    MOCKPBS_KILL_DELAY: "1",
    ...extraEnv,
  };
  const root = await Deno.makeTempDir({ prefix: "hq-pbs-manager-" });
  // `qselect | xargs qdel`, then wait for the jobs' supervisors before removing their state.
  const cleanUp = async () => {
    const pending = async () =>
      (await runManagerCommand("qselect", [], { cwd: root, env })).split("\n").filter(Boolean);
    try {
      const ids = await pending();
      if (ids.length > 0) await runManagerCommand("qdel", ids, { cwd: root, env }).catch(() => {});
      await waitUntil(async () => (await pending()).length === 0, {
        timeoutMs: 15_000,
        intervalMs: 200,
        what: "the PBS stand-in's jobs to end",
      });
    } finally {
      await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    }
  };
  return new ManagerFixture(new PbsManager({ env }), root, cleanUp);
}

const noPbs = await Deno.stat(joinPath(PBS_STAND_IN_DIR, "qsub")).then(() => false, () => true);
if (noPbs) console.warn(`PBS tests skipped: the PBS stand-in is missing (${PBS_STAND_IN_DIR})`);

managerContractTests("PbsManager", { ignore: noPbs, fixture: () => pbsFixture() });

Deno.test({
  name: "PbsManager: a queued allocation is queued, and deleted it finishes failed without a start",
  ignore: noPbs,
  fn: async () => {
    await using f = await pbsFixture({ MOCKPBS_QUEUE_DELAY: "30" });
    const { id, dir } = await f.submit("true");
    deepEqual(await f.status(id, dir), { kind: "queued" });
    await f.manager.cancel(id, dir);
    const finished = await f.status(id, dir);
    ok(finished.kind === "finished" && finished.failed, JSON.stringify(finished));
    equal(finished.startedMs, null);
    ok(finished.endedMs !== null && Math.abs(finished.endedMs - Date.now()) < 60_000);
  },
});

Deno.test({
  name: "PbsManager: a held (dry-run) allocation is a status error until qdel finishes it",
  ignore: noPbs,
  fn: async () => {
    await using f = await pbsFixture();
    const { id, dir } = await f.submit("true", { dryRun: true });
    deepEqual(await f.status(id, dir), { kind: "error", message: `Unknown PBS job status "H"` });
    await f.manager.cancel(id, dir);
    const finished = await f.status(id, dir);
    ok(finished.kind === "finished" && finished.failed, JSON.stringify(finished));
    equal(finished.startedMs, null);
  },
});

Deno.test({
  name: "PbsManager: a rejected submission carries qsub's exit code, stderr and the script",
  ignore: noPbs,
  fn: async () => {
    await using f = await pbsFixture({ MOCKPBS_FAIL: "1" });
    const error = await f.submit("true").then(() => null, (error) => error);
    ok(error instanceof AllocationSubmitError, String(error));
    equal(
      error.message,
      "Exit code: 1\nStderr: qsub: Job rejected by all possible destinations (MOCKPBS_FAIL is set)\nStdout: ",
    );
    equal(error.scriptPath, joinPath(f.root, "autoalloc/1/001/hq-submit.sh"));
    await Deno.stat(error.scriptPath);
  },
});

Deno.test({
  name:
    "PbsManager: an unknown job id (purged from PBS's history) is finished, the others keep their state",
  ignore: noPbs,
  fn: async () => {
    await using f = await pbsFixture();
    const { id, dir } = await f.submit("sleep 30");
    const results = await f.manager.poll([id, "999.mockpbs"], dir);
    equal(results.size, 2);
    const known = results.get(id);
    ok(known?.kind === "queued" || known?.kind === "running", JSON.stringify(known));
    const unknown = results.get("999.mockpbs");
    ok(unknown?.kind === "finished" && unknown.failed, JSON.stringify(unknown));
  },
});
