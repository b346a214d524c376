/**
 * PBS (spec §2.6–§2.7): `qsub` prints the job id, one `qstat -f <id>… -F json -x` reports every
 * allocation of a queue, `qdel` cancels.
 */
import type { ManagerName } from "../../common/autoalloc.ts";
import { describeError } from "../../common/errors.ts";
import { parseQstatJobs, type QstatJob } from "../../common/manager_output.ts";
import type { AllocationManager, ManagerOptions, ManagerPollResult } from "./allocation_manager.ts";
import { localTimeMs } from "./_local_time.ts";
import { ManagerCommandError, runManagerCommand, runSubmitCommand } from "./manager_command.ts";
import { pbsSubmitScript, type ScriptOptions } from "./submit_script.ts";

export class PbsManager implements AllocationManager {
  readonly name: ManagerName = "pbs";
  readonly #options: ManagerOptions;

  constructor(options: ManagerOptions = {}) {
    this.#options = options;
  }

  submitScript(options: ScriptOptions): string {
    return pbsSubmitScript(options);
  }

  submit(dir: string): Promise<string> {
    const { env, timeoutMs } = this.#options;
    return runSubmitCommand("qsub", { dir, env, timeoutMs, parseJobId: parseQsubJobId });
  }

  async poll(ids: string[], cwd: string): Promise<Map<string, ManagerPollResult>> {
    if (ids.length === 0) return new Map();
    const { env, timeoutMs } = this.#options;
    const args = [...ids.flatMap((id) => ["-f", id]), "-F", "json", "-x"];
    let output: string;
    try {
      output = await runManagerCommand("qstat", args, { cwd, env, timeoutMs });
    } catch (error) {
      // `qstat` exits 153 when one id is unknown (its history purged) yet prints the others:
      // those still count, and the unknown ones are finished.
      if (error instanceof ManagerCommandError && error.commandExitCode === QSTAT_UNKNOWN_JOB) {
        try {
          return parseQstatStatuses(error.stdout, ids, (this.#options.now ?? Date.now)());
        } catch {
          // Not the JSON of the known jobs: the poll failed.
        }
      }
      return new Map(ids.map((id) => [id, { kind: "error", message: describeError(error) }]));
    }
    return parseQstatStatuses(output, ids, (this.#options.now ?? Date.now)());
  }

  async cancel(id: string, cwd: string): Promise<void> {
    const { env, timeoutMs } = this.#options;
    await runManagerCommand("qdel", [id], { cwd, env, timeoutMs });
  }
}

/** `qstat`'s exit code when an id is unknown to the server. */
const QSTAT_UNKNOWN_JOB = 153;

/** qsub prints the job id and nothing else (`1234.pbs01`). */
export function parseQsubJobId(stdout: string): string {
  const id = stdout.trim();
  if (id === "") throw new Error("Missing job id in qsub output");
  return id;
}

/**
 * The status of each id in `qstat -f … -F json -x` output. A job missing from it has left PBS's
 * history: it finished, and as far as we can tell it failed, just now.
 */
export function parseQstatStatuses(
  output: string,
  ids: string[],
  nowMs: number,
): Map<string, ManagerPollResult> {
  let jobs: Record<string, QstatJob>;
  try {
    jobs = parseQstatJobs(output);
  } catch (error) {
    const message = `Cannot parse qstat output: ${describeError(error)}`;
    return new Map(ids.map((id) => [id, { kind: "error", message }]));
  }
  return new Map(ids.map((id): [string, ManagerPollResult] => [
    id,
    Object.hasOwn(jobs, id)
      ? pbsJobStatus(jobs[id])
      : { kind: "finished", failed: true, startedMs: null, endedMs: nowMs },
  ]));
}

/** `Q` queued; `R`, `E` running; `F` finished (failed unless `Exit_status` is 0); else an error. */
export function pbsJobStatus(job: QstatJob): ManagerPollResult {
  const state = job.job_state;
  switch (state) {
    case "Q":
      return { kind: "queued" };
    case "R":
    case "E":
      return { kind: "running" };
    case "F":
      try {
        return {
          kind: "finished",
          // A job deleted before it ran has no Exit_status.
          failed: job.Exit_status !== 0,
          startedMs: pbsTimeField(job, "stime"),
          endedMs: pbsTimeField(job, "mtime"),
        };
      } catch (error) {
        return { kind: "error", message: describeError(error) };
      }
    default:
      return {
        kind: "error",
        message: typeof state === "string"
          ? `Unknown PBS job status "${state}"`
          : "Missing job_state in qstat output",
      };
  }
}

function pbsTimeField(job: QstatJob, key: string): number | null {
  const value = job[key];
  if (value === undefined) return null;
  if (typeof value !== "string") {
    throw new Error(`Cannot parse ${key} of qstat output: not a string`);
  }
  try {
    return parsePbsDateTime(value);
  } catch (error) {
    throw new Error(`Cannot parse ${key} "${value}" of qstat output: ${describeError(error)}`);
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `Thu Aug 19 13:05:17 2021` (ctime form, the day possibly space-padded), in local time. */
export function parsePbsDateTime(text: string): number {
  const match = /^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})$/
    .exec(text.trim());
  const month = match === null ? -1 : MONTHS.indexOf(match[1]);
  if (match === null || month < 0) throw new Error('expected e.g. "Thu Aug 19 13:05:17 2021"');
  return localTimeMs({
    year: Number(match[6]),
    month: month + 1,
    day: Number(match[2]),
    hour: Number(match[3]),
    minute: Number(match[4]),
    second: Number(match[5]),
  });
}
