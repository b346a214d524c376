/** Test builder of queue parameters: `hq alloc add … -t 1h` with nothing else given. */
import type { QueueParams } from "./autoalloc.ts";

export function queueParams(overrides: Partial<QueueParams> = {}): QueueParams {
  return {
    manager: "slurm",
    timeLimitMs: 3_600_000,
    backlog: 1,
    maxWorkersPerAlloc: 1,
    maxWorkerCount: null,
    name: null,
    minUtilization: 0,
    additionalArgs: [],
    workerArgs: ["--on-server-lost", `"finish-running"`, "--time-limit", `"1h"`],
    workerStartCmd: null,
    workerStopCmd: null,
    workerWrapCmd: null,
    idleTimeoutMs: 300_000,
    workerTimeLimitMs: null,
    cliResources: null,
    cliResourceTexts: { cpus: null, resources: [] },
    ...overrides,
  };
}
