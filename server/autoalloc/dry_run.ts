/**
 * The trial submission before a queue is created (spec §2.4): one allocation of
 * `max-workers-per-alloc` nodes, submitted from a temporary directory and canceled at once. PBS
 * holds it (`#PBS -h`); Slurm has no hold in HyperQueue, so a real job is submitted and canceled.
 */
import type { QueueParams } from "../../common/autoalloc.ts";
import { describeError, HqError } from "../../common/errors.ts";
import { type AllocationManager, allocationManager } from "./allocation_manager.ts";
import { AllocationSubmitError } from "./manager_command.ts";
import { submitAllocation } from "./allocation_dir.ts";

/** The trial allocation could not be submitted or canceled; the message is the spec's. */
export class DryRunError extends HqError {}

export interface DryRunContext {
  /** Absolute path of an `hq` runnable on the compute nodes. */
  hqPath: string;
  /** The server's instance directory. */
  serverDir: string;
  /** Forwarded to the workers when not null. @default {Deno.env.get("RUST_LOG") ?? null} */
  rustLog?: string | null;
  /** @default {allocationManager(params.manager)} */
  manager?: AllocationManager;
  /** Where the throw-away directory is made. @default the system's temporary directory */
  tempParent?: string;
}

/**
 * Submits and cancels one trial allocation; returns its job id. The temporary directory is
 * removed, except after a failed submission: the error points the user at the script in it.
 */
export async function dryRun(params: QueueParams, context: DryRunContext): Promise<string> {
  const manager = context.manager ?? allocationManager(params.manager);
  const tempRoot = await Deno.makeTempDir({ dir: context.tempParent, prefix: "hq-dry-run-" });
  let allocation;
  try {
    allocation = await submitAllocation({
      manager,
      autoallocRoot: tempRoot,
      queueId: 0,
      params,
      attempt: 1,
      workerCount: params.maxWorkersPerAlloc,
      hqPath: context.hqPath,
      serverDir: context.serverDir,
      rustLog: context.rustLog,
      dryRun: true,
    });
  } catch (error) {
    const scriptPath = error instanceof AllocationSubmitError ? error.scriptPath : null;
    if (scriptPath === null) await Deno.remove(tempRoot, { recursive: true }).catch(() => {});
    const where = scriptPath === null ? "" : `\nYou can find the submitted script at ${scriptPath}`;
    throw new DryRunError(`Could not submit allocation: ${describeError(error)}${where}`, {
      cause: error,
    });
  }
  try {
    await manager.cancel(allocation.allocationId, allocation.dir);
  } catch (error) {
    throw new DryRunError(
      `Could not cancel allocation ${allocation.allocationId}: ${describeError(error)}`,
      { cause: error },
    );
  } finally {
    await Deno.remove(tempRoot, { recursive: true }).catch(() => {});
  }
  return allocation.allocationId;
}
