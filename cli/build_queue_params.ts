/**
 * Turns the parsed options of `hq alloc add|dry-run` into the `QueueParams` the server receives
 * (journal-alloc spec §2.2–§2.3): checks the values against each other, builds the worker's
 * command-line arguments and collects the warnings the user should see. Pure: no I/O.
 */
import type { ManagerName, QueueParams } from "../common/autoalloc.ts";
import { formatDuration } from "../common/duration.ts";
import { HqError } from "../common/errors.ts";
import { CPU_RESOURCE_NAME, sortResourceItems } from "../common/resources/resource_descriptor.ts";
import type { AllocQueueArgs } from "./alloc_commands.ts";

/** Queue options that contradict each other or are out of range (exit code 1). */
export class QueueParamsError extends HqError {}

export interface BuiltQueueParams {
  params: QueueParams;
  /** Lines to log as warnings before the request is sent. */
  warnings: string[];
}

const TEN_MINUTES_MS = 10 * 60_000;

export function buildQueueParams(manager: ManagerName, args: AllocQueueArgs): BuiltQueueParams {
  if (args.backlog === 0) throw new QueueParamsError("Backlog has to be at least 1");
  // Not in the spec; a queue of zero-node allocations could never start a worker.
  if (args.maxWorkersPerAlloc === 0) {
    throw new QueueParamsError("Max workers per allocation has to be at least 1");
  }
  if (!(args.minUtilization >= 0 && args.minUtilization <= 1)) {
    throw new QueueParamsError("Minimal utilization has to be in the interval [0.0, 1.0].");
  }
  if (args.workerTimeLimit !== undefined && args.workerTimeLimit > args.timeLimit) {
    throw new QueueParamsError("Worker time limit cannot be larger than queue time limit");
  }
  if (args.name !== undefined) checkName(args.name);

  const resourceItems = args.resource.map((resource) => resource.value);
  const cpusResource = resourceItems.some((item) => item.name === CPU_RESOURCE_NAME);
  if (args.cpus !== undefined && cpusResource) {
    // The workers would refuse to start with these (server-worker spec §4.1); say so now.
    throw new QueueParamsError("Parameters --cpus and --resource cpus=... cannot be combined");
  }
  const items = args.cpus === undefined ? resourceItems : [args.cpus.value, ...resourceItems];
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.name)) throw new QueueParamsError(`Resource ${item.name} defined twice`);
    seen.add(item.name);
  }

  const warnings: string[] = [];
  if (items.length === 0) {
    warnings.push(
      "No worker resources were given (--cpus, --resource): the queue runs in probing mode, " +
        "submitting one allocation at a time until its first worker connects and shows " +
        "what a worker offers",
    );
  }
  if (args.idleTimeout > TEN_MINUTES_MS) {
    warnings.push(
      `The idle timeout of the workers (${formatDuration(args.idleTimeout)}) is longer than ` +
        "10 minutes: an idle worker keeps its allocation, and its time is wasted",
    );
  }

  const params: QueueParams = {
    manager,
    timeLimitMs: args.timeLimit,
    backlog: args.backlog,
    maxWorkersPerAlloc: args.maxWorkersPerAlloc,
    maxWorkerCount: args.maxWorkerCount ?? null,
    name: args.name ?? null,
    minUtilization: args.minUtilization,
    additionalArgs: args.additionalArgs,
    workerArgs: buildWorkerArgs(args),
    workerStartCmd: args.workerStartCmd ?? null,
    workerStopCmd: args.workerStopCmd ?? null,
    workerWrapCmd: args.workerWrapCmd ?? null,
    idleTimeoutMs: args.idleTimeout,
    workerTimeLimitMs: args.workerTimeLimit ?? null,
    cliResources: items.length === 0 ? null : sortResourceItems(items),
    cliResourceTexts: {
      cpus: args.cpus?.text ?? null,
      resources: args.resource.map((resource) => resource.text),
    },
  };
  return { params, warnings };
}

/**
 * `hq worker start` arguments in the order of spec §2.3, option and value as separate items (as
 * HyperQueue lists them in `worker_args`); the submit script joins them with spaces.
 */
export function buildWorkerArgs(args: AllocQueueArgs): string[] {
  const out: string[] = [];
  if (args.cpus !== undefined) out.push("--cpus", quoted(args.cpus.text));
  for (const resource of args.resource) out.push("--resource", quoted(resource.text));
  if (args.coupling !== undefined) out.push("--coupling", quoted(args.coupling));
  if (args.group !== undefined) out.push("--group", args.group);
  if (args.noHyperThreading) out.push("--no-hyper-threading");
  if (args.detectResources !== undefined) out.push("--detect-resources", args.detectResources.text);
  if (args.overviewInterval !== undefined) {
    out.push("--overview-interval", quoted(args.overviewInterval.text));
  }
  if (args.minUtilization > 0) out.push("--min-utilization", formatFloat(args.minUtilization));
  out.push("--on-server-lost", quoted(args.onServerLost));
  out.push("--time-limit", quoted(formatDuration(args.workerTimeLimit ?? args.timeLimit)));
  return out;
}

function quoted(text: string): string {
  return `"${text}"`;
}

/** Like Rust's float `Display`: never an exponent (`1e-7` → `0.0000001`). */
function formatFloat(value: number): string {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(20).replace(/0+$/, "").replace(/\.$/, "");
}

// The name becomes part of a directory name and of a `#PBS -N` / `#SBATCH --job-name` directive.
function checkName(name: string): void {
  if (name === "" || /[\s/]/.test(name) || name.includes("\0")) {
    throw new QueueParamsError(
      `Invalid queue name "${name}": it must be non-empty, without whitespace or "/"`,
    );
  }
}
