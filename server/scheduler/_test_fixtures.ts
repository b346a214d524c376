/** Builders shared by the core's tests and benchmarks. */
import type { TaskTemplate } from "../../common/job_types.ts";
import type { WorkerConfiguration } from "../../common/protocol.ts";

/** A plausible worker configuration with `cpus` CPUs; override any field. */
export function testWorkerConfiguration(
  cpus = 4,
  overrides: Partial<WorkerConfiguration> = {},
): WorkerConfiguration {
  return {
    hostname: "cn1",
    listenAddress: "cn1:1",
    workDir: "/tmp/w",
    group: "default",
    heartbeatIntervalMs: 8_000,
    idleTimeoutMs: null,
    timeLimitMs: null,
    overviewIntervalMs: null,
    minUtilization: 0,
    onServerLost: "stop",
    retractCheckIntervalMs: 30_000,
    resources: {
      resources: [{ name: "cpus", kind: "range", start: 0, end: cpus - 1 }],
      coupling: { weights: [] },
    },
    manager: null,
    pid: 1,
    ...overrides,
  };
}

/** A task template running `true` on one CPU in `dir`; override any field. */
export function testTaskTemplate(
  dir = "/tmp",
  overrides: Partial<TaskTemplate> = {},
): TaskTemplate {
  return {
    args: ["true"],
    env: {},
    cwd: dir,
    stdout: null,
    stderr: null,
    removeStdoutIfFinished: false,
    removeStderrIfFinished: false,
    stdin: null,
    resources: [{ name: "cpus", amount: 10_000, policy: "compact" }],
    weight: 1,
    nodes: 0,
    timeLimitMs: null,
    timeRequestMs: 0,
    priority: 0,
    crashLimit: 5,
    pin: null,
    taskDir: false,
    submitDir: dir,
    ...overrides,
  };
}
