/**
 * `hq alloc …` (journal-alloc spec §2.1–§2.2): arguments and help here, implementations loaded
 * when run. Values that only need checking against each other (backlog ≥ 1, worker time limit ≤
 * queue time limit, …) are checked in `build_queue_params.ts`, so they end as runtime errors
 * (exit 1) as the spec words them, while malformed values stay usage errors (exit 2).
 */
import { parseId } from "../common/id_selector.ts";
import type { AllocationStatus, ManagerName } from "../common/autoalloc.ts";
import {
  parseCpuDefinition,
  parseResourceDefinition,
} from "../common/resources/parse_resource_definition.ts";
import {
  type ArgValues,
  type Command,
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
import { parseDetectResources } from "./worker_commands.ts";

type RunAlloc = typeof import("./run_alloc.ts");
const runAlloc = () => lazyImport<RunAlloc>("./run_alloc.ts");

/** A value parsed for checking, kept with the user's text (forwarded verbatim to workers). */
export interface Original<T> {
  text: string;
  value: T;
}

function keepingText<T>(parse: (raw: string) => T): (raw: string) => Original<T> {
  return (raw) => ({ text: raw, value: parse(raw) });
}

/** A `u32` with clap's messages (`--backlog abc`: `invalid digit found in string`). */
export function parseU32Arg(raw: string): number {
  if (raw === "") throw new Error("cannot parse integer from empty string");
  if (!/^\+?[0-9]+$/.test(raw)) throw new Error("invalid digit found in string");
  const value = Number(raw);
  if (value > 0xffff_ffff) throw new Error("number too large to fit in target type");
  return value;
}

/** An `f32` with clap's message; the range is checked later (spec: exit 1). */
export function parseFloatArg(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || raw.trim() !== raw || !Number.isFinite(value)) {
    throw new Error("invalid float literal");
  }
  return value;
}

/** The options of `hq alloc add` and `hq alloc dry-run` (spec §2.2), in the spec's order. */
export const allocQueueArgs = {
  timeLimit: option({
    help: "Time limit (walltime) of each allocation (HH:MM:SS or humantime, e.g. 2h)",
    short: "t",
    parse: parseDurationArg,
    required: true,
  }),
  backlog: option({
    help: "How many allocations may be queued (waiting in PBS/Slurm) at the same time",
    short: "b",
    parse: parseU32Arg,
    default: 1,
    defaultText: "1",
  }),
  maxWorkersPerAlloc: option({
    help: "Maximum number of workers (nodes, one worker each) in one allocation",
    short: "m",
    parse: parseU32Arg,
    default: 1,
    defaultText: "1",
  }),
  maxWorkerCount: option({
    help: "Maximum number of workers in queued and running allocations of this queue " +
      "(default: unlimited)",
    parse: parseU32Arg,
  }),
  name: option({
    help: "Name of the queue, used in allocation names and directory names",
    short: "n",
  }),
  minUtilization: option({
    help: "Plan tasks onto a worker only if at least this fraction of its CPUs is used (0.0–1.0)",
    parse: parseFloatArg,
    default: 0,
    defaultText: "0.0",
  }),
  cpus: option({
    help: "CPUs of each worker, as in `hq worker start` (e.g. 8, 2x4, [0,2,4])",
    parse: keepingText(parseCpuDefinition),
  }),
  resource: optionList({
    help: "Additional resource of each worker, as in `hq worker start` (e.g. gpus=[0,1])",
    valueName: "RESOURCE",
    parse: keepingText(parseResourceDefinition),
  }),
  coupling: option({ help: "Resource-group affinity of the workers, e.g. cpus[0]:gpus[0]" }),
  group: option({ help: "Worker group (default: the allocation id)" }),
  noHyperThreading: flag({ help: "Workers keep only the first hardware thread of each core" }),
  detectResources: option({
    help: "Which resources workers detect: all, none, or a list of cpus, mem, gpus/nvidia, " +
      "gpus/amd",
    parse: keepingText(parseDetectResources),
  }),
  overviewInterval: option({
    help: "Period of the workers' hardware-usage overviews (0s disables)",
    parse: keepingText(parseHumantimeArg),
  }),
  idleTimeout: option({
    help: "Workers stop when idle for this long",
    parse: parseDurationArg,
    default: 300_000,
    defaultText: "5m",
  }),
  onServerLost: option<"stop" | "finish-running">({
    help: "What workers do with running tasks when the server is lost",
    possibleValues: ["stop", "finish-running"],
    parse: (raw) => raw as "stop" | "finish-running",
    default: "finish-running",
    defaultText: "finish-running",
  }),
  workerStartCmd: option({ help: "Shell command run on each node before the worker starts" }),
  workerStopCmd: option({ help: "Shell command run on each node after the worker stops" }),
  workerWrapCmd: option({
    help: "Command placed before the worker executable (e.g. `podman run …`)",
  }),
  workerTimeLimit: option({
    help: "Time limit of the workers (default: the queue's --time-limit, which it cannot exceed)",
    parse: parseDurationArg,
  }),
  additionalArgs: positionalList({
    help: "Arguments for qsub/sbatch; put `--` before them (no node count or walltime here)",
    valueName: "ADDITIONAL_ARGS",
    trailing: true,
  }),
};
export type AllocQueueArgs = ArgValues<typeof allocQueueArgs>;

export const allocAddArgs = {
  ...allocQueueArgs,
  noDryRun: flag({ help: "Skip the trial submission that checks the parameters" }),
};
export type AllocAddArgs = ArgValues<typeof allocAddArgs>;

const queueIdArg = {
  queueId: positional({
    help: "Id of the allocation queue",
    parse: parseId,
    required: true,
    valueName: "QUEUE_ID",
  }),
};

export const allocInfoArgs = {
  ...queueIdArg,
  filter: option<AllocationStatus>({
    help: "Show only allocations in this state",
    possibleValues: ["queued", "running", "finished", "failed"],
    parse: (raw) => raw as AllocationStatus,
  }),
};
export type AllocInfoArgs = ArgValues<typeof allocInfoArgs>;

export const allocLogArgs = {
  allocationId: positional({
    help: "Id of the allocation (the PBS/Slurm job id)",
    required: true,
    valueName: "ALLOCATION_ID",
  }),
  stream: positional<"stdout" | "stderr">({
    help: "Which output of the allocation to print",
    possibleValues: ["stdout", "stderr"],
    parse: (raw) => raw as "stdout" | "stderr",
    required: true,
    valueName: "CHANNEL",
  }),
};
export type AllocLogArgs = ArgValues<typeof allocLogArgs>;

const MANAGERS: Array<[ManagerName, string]> = [["pbs", "PBS"], ["slurm", "Slurm"]];

function addCommands(): Command<CliContext>[] {
  return MANAGERS.map(([manager, label]) =>
    defineCommand({
      name: manager,
      about: `Create a ${label} allocation queue`,
      args: allocAddArgs,
      run: async (values, context: CliContext) =>
        (await runAlloc()).runAllocAdd(manager, values, context),
    })
  );
}

function dryRunCommands(): Command<CliContext>[] {
  return MANAGERS.map(([manager, label]) =>
    defineCommand({
      name: manager,
      about: `Submit a trial ${label} allocation and cancel it at once`,
      args: allocQueueArgs,
      run: async (values, context: CliContext) =>
        (await runAlloc()).runAllocDryRun(manager, values, context),
    })
  );
}

export const allocCommand = defineCommand<Record<never, never>, CliContext>({
  name: "alloc",
  about: "Commands for automatic allocation of workers through PBS or Slurm",
  subcommands: [
    defineCommand({
      name: "list",
      about: "List allocation queues",
      run: async (_values, context: CliContext) => (await runAlloc()).runAllocList(context),
    }),
    defineCommand({
      name: "info",
      about: "Show the allocations of an allocation queue",
      args: allocInfoArgs,
      run: async (values, context: CliContext) => (await runAlloc()).runAllocInfo(values, context),
    }),
    defineCommand({
      name: "log",
      about: "Print the stdout or stderr of an allocation",
      args: allocLogArgs,
      run: async (values, context: CliContext) => (await runAlloc()).runAllocLog(values, context),
    }),
    defineCommand({
      name: "add",
      about: "Create an allocation queue (a trial allocation is submitted first)",
      subcommands: addCommands(),
    }),
    defineCommand({
      name: "dry-run",
      about: "Check queue parameters by submitting a trial allocation and cancelling it",
      subcommands: dryRunCommands(),
    }),
    defineCommand({
      name: "pause",
      about: "Pause an allocation queue: it submits nothing until resumed",
      args: queueIdArg,
      run: async (values, context: CliContext) =>
        (await runAlloc()).runAllocPause(values.queueId, context),
    }),
    defineCommand({
      name: "resume",
      about: "Resume a paused allocation queue",
      args: queueIdArg,
      run: async (values, context: CliContext) =>
        (await runAlloc()).runAllocResume(values.queueId, context),
    }),
    defineCommand({
      name: "remove",
      about: "Remove an allocation queue, cancelling its queued and running allocations",
      args: {
        ...queueIdArg,
        force: flag({ help: "Remove the queue even if some of its allocations are running" }),
      },
      run: async (values, context: CliContext) =>
        (await runAlloc()).runAllocRemove(values.queueId, values.force, context),
    }),
  ],
});
