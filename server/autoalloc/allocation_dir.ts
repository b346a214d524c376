/**
 * An allocation attempt's directory (spec §2.5): creating it, submitting from it, and pruning the
 * directories of failed attempts. `<autoalloc root>/<queue id>[-<name>]/<NNN>/` holds
 * `hq-submit.sh`, `jobid` (after a successful submission) and the `stdout`/`stderr` that PBS or
 * Slurm write there.
 */
import type { QueueParams } from "../../common/autoalloc.ts";
import { describeError } from "../../common/errors.ts";
import { logger } from "../../common/log.ts";
import { joinPath } from "../../common/paths.ts";
import type { AllocationManager } from "./allocation_manager.ts";
import { AllocationSubmitError } from "./manager_command.ts";
import { allocationName, SUBMIT_SCRIPT_FILE } from "./submit_script.ts";

const log = logger("server::autoalloc");

export const JOB_ID_FILE = "jobid";

/** Failed attempt directories kept per queue. */
export const KEPT_FAILED_DIRS = 20;

/** `<queue id>` or `<queue id>-<name>`. */
export function queueDirName(queueId: number, name: string | null): string {
  return name === null ? String(queueId) : `${queueId}-${name}`;
}

export function queueDirPath(autoallocRoot: string, queueId: number, name: string | null): string {
  return joinPath(autoallocRoot, queueDirName(queueId, name));
}

export interface AllocationDirOptions {
  queueId: number;
  /** The queue's `--name`. */
  name: string | null;
  /** The queue's attempt counter, from 1; becomes `001`, `002`, … (more digits past 999). */
  attempt: number;
}

/**
 * Creates `<autoallocRoot>/<queue>/<NNN>/` and returns its absolute path. The attempt directory
 * must be new: reusing one would mix two allocations' scripts and output.
 */
export async function createAllocationDir(
  autoallocRoot: string,
  options: AllocationDirOptions,
): Promise<string> {
  const queueDir = queueDirPath(autoallocRoot, options.queueId, options.name);
  const dir = joinPath(queueDir, String(options.attempt).padStart(3, "0"));
  await Deno.mkdir(queueDir, { recursive: true });
  await Deno.mkdir(dir);
  return dir;
}

export interface SubmitAllocationOptions {
  manager: AllocationManager;
  /** `<server instance dir>/autoalloc`, or a temporary directory for a dry run. */
  autoallocRoot: string;
  queueId: number;
  params: QueueParams;
  /** The queue's attempt counter, from 1 (directory `NNN` and the allocation's name). */
  attempt: number;
  /** Nodes (workers) of this allocation. */
  workerCount: number;
  /** Absolute path of an `hq` runnable on the compute nodes. */
  hqPath: string;
  /** The server's instance directory. */
  serverDir: string;
  /** Forwarded to the workers when not null. @default {Deno.env.get("RUST_LOG") ?? null} */
  rustLog?: string | null;
  /** PBS: submit the job held. @default false */
  dryRun?: boolean;
}

export interface SubmittedAllocation {
  /** The manager's job id. */
  allocationId: string;
  /** The allocation's directory (absolute). */
  dir: string;
}

/**
 * Creates the attempt directory, writes `hq-submit.sh`, submits it and records the job id in
 * `jobid`. Any failure is an AllocationSubmitError (with the script path once it was written); a
 * job whose id cannot be recorded is canceled, as nothing would track it.
 */
export async function submitAllocation(
  options: SubmitAllocationOptions,
): Promise<SubmittedAllocation> {
  const { manager, params } = options;
  let dir: string;
  try {
    dir = await createAllocationDir(options.autoallocRoot, {
      queueId: options.queueId,
      name: params.name,
      attempt: options.attempt,
    });
  } catch (error) {
    throw new AllocationSubmitError(
      `Cannot create the allocation directory in "${options.autoallocRoot}": ${
        describeError(error)
      }`,
      null,
      { cause: error },
    );
  }
  const scriptPath = joinPath(dir, SUBMIT_SCRIPT_FILE);
  const script = manager.submitScript({
    params,
    workerCount: options.workerCount,
    dir,
    allocationName: allocationName(options.queueId, params.name, options.attempt),
    hqPath: options.hqPath,
    serverDir: options.serverDir,
    dryRun: options.dryRun ?? false,
    rustLog: options.rustLog !== undefined ? options.rustLog : Deno.env.get("RUST_LOG") ?? null,
  });
  try {
    await Deno.writeTextFile(scriptPath, script);
  } catch (error) {
    throw new AllocationSubmitError(
      `Cannot write the submit script "${scriptPath}": ${describeError(error)}`,
      null,
      { cause: error },
    );
  }
  const allocationId = await manager.submit(dir);
  const jobIdPath = joinPath(dir, JOB_ID_FILE);
  try {
    await Deno.writeTextFile(jobIdPath, allocationId);
  } catch (error) {
    let outcome = `allocation ${allocationId} was canceled`;
    try {
      await manager.cancel(allocationId, dir);
    } catch (cancelError) {
      outcome = `canceling allocation ${allocationId} failed too: ${describeError(cancelError)}`;
      log.error(`Allocation ${allocationId} is left running untracked: ${outcome}`);
    }
    throw new AllocationSubmitError(
      `Cannot write the job id file "${jobIdPath}": ${describeError(error)} (${outcome})`,
      scriptPath,
      { cause: error },
    );
  }
  return { allocationId, dir };
}

/**
 * Removes the oldest failed attempt directories (those without a `jobid` file) of a queue so that
 * at most `keep` remain. Directories of submitted allocations are never removed. Returns the paths
 * removed; a missing queue directory is fine.
 */
export async function pruneFailedDirs(
  queueDir: string,
  keep = KEPT_FAILED_DIRS,
): Promise<string[]> {
  const attempts: string[] = [];
  try {
    for await (const entry of Deno.readDir(queueDir)) {
      if (entry.isDirectory && /^\d+$/.test(entry.name)) attempts.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  // The most recent attempts have the highest numbers (the counter only grows in one server run).
  attempts.sort((a, b) => Number(a) - Number(b));
  const failed: string[] = [];
  for (const attempt of attempts) {
    const dir = joinPath(queueDir, attempt);
    if (!(await exists(joinPath(dir, JOB_ID_FILE)))) failed.push(dir);
  }
  const removed: string[] = [];
  for (const dir of failed.slice(0, Math.max(0, failed.length - keep))) {
    try {
      await Deno.remove(dir, { recursive: true });
      removed.push(dir);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        log.warn(`Cannot remove failed allocation directory "${dir}": ${describeError(error)}`);
      }
    }
  }
  return removed;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
