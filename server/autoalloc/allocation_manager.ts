/**
 * What the allocator needs from a batch system (spec §2.6–§2.7): the submit script, submitting,
 * polling and canceling. PBS and Slurm implement it; `allocationManager` picks one.
 */
import type { ManagerName } from "../../common/autoalloc.ts";
import { PbsManager } from "./pbs_manager.ts";
import { SlurmManager } from "./slurm_manager.ts";
import type { ScriptOptions } from "./submit_script.ts";

export { AllocationSubmitError } from "./manager_command.ts";
export type { ScriptOptions } from "./submit_script.ts";

/** An allocation's state as the manager reports it (spec §2.7). */
export type ManagerPollResult =
  | { kind: "queued" }
  | { kind: "running" }
  | { kind: "finished"; failed: boolean; startedMs: number | null; endedMs: number | null }
  | { kind: "error"; message: string };

export interface AllocationManager {
  readonly name: ManagerName;
  /** Writes nothing; builds the script text of spec §2.6. */
  submitScript(options: ScriptOptions): string;
  /**
   * Runs qsub/sbatch on `<dir>/hq-submit.sh` (cwd = dir) and returns the job id; throws
   * AllocationSubmitError (message = the error text, e.g. `Exit code: 1\nStderr: …\nStdout: …`).
   */
  submit(dir: string): Promise<string>;
  /**
   * One status for each id (PBS: one qstat call for all; Slurm: scontrol per id). A failing
   * command gives its ids `{ kind: "error" }`; never throws.
   */
  poll(ids: string[], cwd: string): Promise<Map<string, ManagerPollResult>>;
  /** qdel/scancel; throws ManagerCommandError on failure. */
  cancel(id: string, cwd: string): Promise<void>;
}

export interface ManagerOptions {
  /** Variables added to the server's environment for every command (tests: PATH, MOCKPBS_DIR). */
  env?: Record<string, string>;
  /** @default {DEFAULT_COMMAND_TIMEOUT_MS} */
  timeoutMs?: number;
  /** The clock for "ended now" of a PBS job that qstat no longer knows. @default {Date.now} */
  now?: () => number;
}

export function allocationManager(
  name: ManagerName,
  options: ManagerOptions = {},
): AllocationManager {
  return name === "pbs" ? new PbsManager(options) : new SlurmManager(options);
}
