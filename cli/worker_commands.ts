/** `hq worker …` (spec §4): arguments and help here, implementations loaded when run. */
import { parseId, parseIdSelector } from "../common/id_selector.ts";
import {
  parseCpuDefinition,
  parseResourceDefinition,
} from "../common/resources/parse_resource_definition.ts";
import {
  type ArgValues,
  defineCommand,
  flag,
  option,
  optionList,
  positional,
  positionalList,
} from "./args.ts";
import type { CliContext } from "./context.ts";
import { lazyImport } from "./lazy_import.ts";
import { parseDurationArg, parseHumantimeArg } from "./value_parsers.ts";

const DETECTABLE = ["cpus", "mem", "gpus/nvidia", "gpus/amd"] as const;
export type Detectable = typeof DETECTABLE[number];

/** `all`, `none`, or a comma list of detectable resources. */
export function parseDetectResources(raw: string): Detectable[] {
  if (raw === "all") return [...DETECTABLE];
  if (raw === "none") return [];
  return raw.split(",").map((item) => {
    const name = item.trim();
    if (!(DETECTABLE as readonly string[]).includes(name)) {
      throw new Error(
        `unknown resource "${name}" (expected all, none or a list of ${DETECTABLE.join(", ")})`,
      );
    }
    return name as Detectable;
  });
}

function parseMinUtilization(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value)) throw new Error("invalid float literal");
  if (value < 0 || value > 1) {
    throw new Error("Minimal utilization has to be in the interval [0.0, 1.0].");
  }
  return value;
}

function parseHeartbeat(raw: string): number {
  const ms = parseDurationArg(raw);
  if (ms <= 150) throw new Error("The heartbeat has to be longer than 150ms");
  return ms;
}

export const workerStartArgs = {
  cpus: option({ help: "CPUs of the worker (e.g. 8, 2x4, [0,2,4])", parse: parseCpuDefinition }),
  resource: optionList({
    help: "Additional resource, NAME=KIND (e.g. gpus=[0,1], mem=sum(4096))",
    valueName: "RESOURCE",
    parse: parseResourceDefinition,
  }),
  coupling: option({ help: "Resource-group affinity, e.g. cpus[0]:gpus[0]" }),
  detectResources: option({
    help: "Which resources to detect: all, none, or a list of cpus, mem, gpus/nvidia, gpus/amd",
    parse: parseDetectResources,
    default: [...DETECTABLE] as Detectable[],
    defaultText: "all",
  }),
  noHyperThreading: flag({ help: "Keep only the first hardware thread of each core" }),
  group: option({ help: "Worker group (default: the allocation id, else `default`)" }),
  idleTimeout: option({
    help: "Stop when idle for this long (default: the server's --idle-timeout)",
    parse: parseDurationArg,
  }),
  timeLimit: option({
    help: "Stop after this long (default: the remaining time of the PBS/Slurm allocation)",
    parse: parseDurationArg,
  }),
  heartbeat: option({
    help: "Heartbeat period",
    parse: parseHeartbeat,
    default: 8_000,
    defaultText: "8s",
  }),
  manager: option<"detect" | "none" | "pbs" | "slurm">({
    help: "Batch system integration",
    possibleValues: ["detect", "none", "pbs", "slurm"],
    parse: (raw) => raw as "detect" | "none" | "pbs" | "slurm",
    default: "detect",
    defaultText: "detect",
  }),
  hostname: option({ help: "Hostname reported to the server (default: local hostname)" }),
  onServerLost: option<"stop" | "finish-running">({
    help: "What to do with running tasks when the server is lost",
    possibleValues: ["stop", "finish-running"],
    parse: (raw) => raw as "stop" | "finish-running",
    default: "stop",
    defaultText: "stop",
  }),
  workDir: option({ help: "Worker scratch directory (should be node-local)" }),
  // Benchmarking only (issue: per-task overhead): the whole task protocol, no processes.
  zeroWorker: flag({
    help: "Finish every task at once without starting a process (for measuring overhead)",
    hidden: true,
  }),
  overviewInterval: option({
    help: "Period of hardware-usage overviews sent to the server (0s disables)",
    parse: parseHumantimeArg,
  }),
  minUtilization: option({
    help: "Plan tasks onto this worker only if at least this fraction of its CPUs is used",
    parse: parseMinUtilization,
    default: 0,
    defaultText: "0.0",
  }),
  retractCheckIntervalMs: option({
    long: "retract-check-interval",
    help: "How often queued tasks that no longer fit the time limit are handed back",
    parse: parseDurationArg,
    default: 30_000,
    defaultText: "30s",
  }),
};
export type WorkerStartArgs = ArgValues<typeof workerStartArgs>;

export const workerListArgs = {
  all: flag({ help: "Show running and offline workers" }),
  filter: option<"running" | "offline">({
    help: "Show only workers in this state",
    possibleValues: ["running", "offline"],
    parse: (raw) => raw as "running" | "offline",
  }),
};
export type WorkerListArgs = ArgValues<typeof workerListArgs>;

export const deploySshArgs = {
  showOutput: flag({ help: "Show the output of the workers (give it before HOSTFILE)" }),
  hostfile: positional({
    help: "File with one host per line, each with an optional :port",
    required: true,
    valueName: "HOSTFILE",
  }),
  workerStartArgs: positionalList({
    help: "Arguments passed to `hq worker start` on every host",
    trailing: true,
    allowHyphenValues: true,
    valueName: "WORKER_START_ARGS",
  }),
};
export type DeploySshArgs = ArgValues<typeof deploySshArgs>;

const selectorArg = {
  selector: positional({
    help: "Worker ids: an id, a range (1-3, 2-10:2), a list, `all` or `last`",
    parse: parseIdSelector,
    required: true,
    valueName: "SELECTOR",
  }),
};

export const workerCommand = defineCommand<Record<never, never>, CliContext>({
  name: "worker",
  about: "Commands for workers",
  subcommands: [
    defineCommand({
      name: "start",
      about: "Start a worker",
      args: workerStartArgs,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_worker_start.ts")>("./run_worker_start.ts"))
          .runWorkerStart(values, context),
    }),
    defineCommand({
      name: "stop",
      about: "Stop workers",
      args: selectorArg,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_worker_client.ts")>("./run_worker_client.ts"))
          .runWorkerStop(values.selector, context),
    }),
    defineCommand({
      name: "list",
      about: "List workers",
      args: workerListArgs,
      conflicts: [["all", "filter"]],
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_worker_client.ts")>("./run_worker_client.ts"))
          .runWorkerList(values, context),
    }),
    defineCommand({
      name: "info",
      about: "Show details of workers",
      args: selectorArg,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_worker_client.ts")>("./run_worker_client.ts"))
          .runWorkerInfo(values.selector, context),
    }),
    defineCommand({
      name: "address",
      about: "Print the hostname of a worker",
      args: {
        workerId: positional({
          help: "Worker id",
          parse: parseId,
          required: true,
          valueName: "WORKER_ID",
        }),
      },
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_worker_client.ts")>("./run_worker_client.ts"))
          .runWorkerAddress(values.workerId, context),
    }),
    defineCommand({
      name: "wait",
      about: "Wait until at least this many workers are running",
      args: {
        count: positional({
          help: "Number of running workers to wait for",
          parse: (raw) => parseId(raw),
          required: true,
          valueName: "COUNT",
        }),
      },
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_worker_client.ts")>("./run_worker_client.ts"))
          .runWorkerWait(values.count, context),
    }),
    defineCommand({
      name: "hwdetect",
      about: "Print the resources a worker would detect on this machine",
      args: {
        noHyperThreading: flag({ help: "Keep only the first hardware thread of each core" }),
      },
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_worker_hwdetect.ts")>("./run_worker_hwdetect.ts"))
          .runHwdetect(values.noHyperThreading, context),
    }),
    defineCommand({
      name: "deploy-ssh",
      about: "Start workers on the hosts of a hostfile over SSH",
      args: deploySshArgs,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_deploy_ssh.ts")>("./run_deploy_ssh.ts"))
          .runDeploySsh(values, context),
    }),
  ],
});
