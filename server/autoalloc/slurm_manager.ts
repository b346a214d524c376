/**
 * Slurm (spec §2.6–§2.7): `sbatch` prints `Submitted batch job <id>`, `scontrol show job <id>`
 * reports one allocation, `scancel` cancels.
 */
import type { ManagerName } from "../../common/autoalloc.ts";
import { describeError } from "../../common/errors.ts";
import { parseScontrolFields } from "../../common/manager_output.ts";
import type { AllocationManager, ManagerOptions, ManagerPollResult } from "./allocation_manager.ts";
import { localTimeMs } from "./_local_time.ts";
import { runManagerCommand, runSubmitCommand } from "./manager_command.ts";
import { type ScriptOptions, slurmSubmitScript } from "./submit_script.ts";

export class SlurmManager implements AllocationManager {
  readonly name: ManagerName = "slurm";
  readonly #options: ManagerOptions;

  constructor(options: ManagerOptions = {}) {
    this.#options = options;
  }

  submitScript(options: ScriptOptions): string {
    return slurmSubmitScript(options);
  }

  submit(dir: string): Promise<string> {
    const { env, timeoutMs } = this.#options;
    return runSubmitCommand("sbatch", { dir, env, timeoutMs, parseJobId: parseSbatchJobId });
  }

  async poll(ids: string[], cwd: string): Promise<Map<string, ManagerPollResult>> {
    const { env, timeoutMs } = this.#options;
    const statuses = new Map<string, ManagerPollResult>();
    for (const id of ids) {
      try {
        const output = await runManagerCommand("scontrol", ["show", "job", id], {
          cwd,
          env,
          timeoutMs,
        });
        statuses.set(id, parseScontrolStatus(output));
      } catch (error) {
        statuses.set(id, { kind: "error", message: describeError(error) });
      }
    }
    return statuses;
  }

  async cancel(id: string, cwd: string): Promise<void> {
    const { env, timeoutMs } = this.#options;
    await runManagerCommand("scancel", [id], { cwd, env, timeoutMs });
  }
}

/**
 * The 4th word of the first line starting (case-insensitively) with `Submitted batch job`; site
 * wrappers may print other lines around it.
 */
export function parseSbatchJobId(stdout: string): string {
  const line = stdout.split("\n").map((text) => text.trim())
    .find((text) => text.toLowerCase().startsWith("submitted batch job"));
  const id = line?.split(/\s+/)[3];
  if (id === undefined || id === "") throw new Error("Missing job id in sbatch output");
  return id;
}

/**
 * `PENDING`, `CONFIGURING` queued; `RUNNING`, `COMPLETING` running; `COMPLETED`, `TIMEOUT`
 * finished; `CANCELLED`, `FAILED` failed; anything else an error.
 */
export function parseScontrolStatus(output: string): ManagerPollResult {
  const fields = parseScontrolFields(output);
  const state = fields.get("JobState");
  switch (state) {
    case "PENDING":
    case "CONFIGURING":
      return { kind: "queued" };
    case "RUNNING":
    case "COMPLETING":
      return { kind: "running" };
    case "COMPLETED":
    case "TIMEOUT":
    case "CANCELLED":
    case "FAILED":
      try {
        return {
          kind: "finished",
          failed: state === "CANCELLED" || state === "FAILED",
          startedMs: slurmTimeField(fields, "StartTime"),
          endedMs: slurmTimeField(fields, "EndTime"),
        };
      } catch (error) {
        return { kind: "error", message: describeError(error) };
      }
    case undefined:
      return { kind: "error", message: "Missing JobState in scontrol output" };
    default:
      return { kind: "error", message: `Unknown Slurm job status "${state}"` };
  }
}

function slurmTimeField(fields: Map<string, string>, key: string): number | null {
  const value = fields.get(key);
  if (value === undefined) return null;
  try {
    return parseSlurmDateTime(value);
  } catch (error) {
    throw new Error(`Cannot parse ${key} "${value}" of scontrol output: ${describeError(error)}`);
  }
}

/** `2021-09-29T09:36:56` in local time; `Unknown` (not started or no end) is null. */
export function parseSlurmDateTime(text: string): number | null {
  if (text === "Unknown") return null;
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (match === null) throw new Error(`expected e.g. "2021-09-29T09:36:56"`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  return localTimeMs({ year, month, day, hour, minute, second });
}
