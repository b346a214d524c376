/**
 * PBS and Slurm integration of spec §6: which allocation a worker runs in, and how much wall time
 * the allocation has left (which becomes the worker's time limit).
 */
import { HqError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { parseQstatJobs, parseScontrolFields } from "../common/manager_output.ts";
import type { ManagerInfo } from "../common/protocol.ts";

const log = logger("worker::manager");

export type ManagerOption = "detect" | "none" | "pbs" | "slurm";
export const MANAGER_OPTIONS: readonly ManagerOption[] = ["detect", "none", "pbs", "slurm"];

export interface ManagerDetection {
  manager: ManagerInfo | null;
  /** Remaining wall time of the allocation, when it could be determined. */
  remainingMs: number | null;
}

/** Runs a program and returns its stdout, or throws; injectable for tests. */
export type CommandRunner = (program: string, args: string[]) => Promise<string>;

export interface DetectManagerOptions {
  env: Record<string, string | undefined>;
  /** @default {runCommand} */
  run?: CommandRunner;
}

export class ManagerError extends HqError {}

export async function detectManager(
  option: ManagerOption,
  options: DetectManagerOptions,
): Promise<ManagerDetection> {
  const { env } = options;
  const run = options.run ?? runCommand;
  const pbsPresent = env.PBS_ENVIRONMENT !== undefined;
  const slurmJobId = env.SLURM_JOB_ID ?? env.SLURM_JOBID;
  if (option === "none") return { manager: null, remainingMs: null };
  if (option === "pbs" && !pbsPresent) {
    throw new ManagerError("PBS_ENVIRONMENT not found. The process is not running under PBS");
  }
  if (option === "slurm" && slurmJobId === undefined) {
    throw new ManagerError(
      "SLURM_JOB_ID/SLURM_JOBID not found. The process is not running under SLURM",
    );
  }
  if (pbsPresent && option !== "slurm") {
    log.info("PBS environment detected");
    const jobId = env.PBS_JOBID;
    if (!jobId) {
      throw new ManagerError("PBS_JOBID not found, although PBS_ENVIRONMENT is set");
    }
    return {
      manager: { manager: "PBS", allocationId: jobId },
      remainingMs: await remainingTime("PBS", () => pbsRemainingMs(jobId, run)),
    };
  }
  if (slurmJobId !== undefined) {
    log.info("SLURM environment detected");
    return {
      manager: { manager: "Slurm", allocationId: slurmJobId },
      remainingMs: await remainingTime("SLURM", () => slurmRemainingMs(slurmJobId, run)),
    };
  }
  return { manager: null, remainingMs: null };
}

async function remainingTime(
  manager: string,
  compute: () => Promise<number>,
): Promise<number | null> {
  try {
    return await compute();
  } catch (error) {
    log.warn(
      `Cannot determine the remaining time of the ${manager} allocation; running without a time limit: ${
        error instanceof Error ? error.message : error
      }`,
    );
    return null;
  }
}

/** `qstat -f <id> -F json`: `Resource_List.walltime − resources_used.walltime`. */
export async function pbsRemainingMs(jobId: string, run: CommandRunner): Promise<number> {
  const output = await run("qstat", ["-f", jobId, "-F", "json"]);
  const jobs = parseQstatJobs(output);
  const job = jobs[jobId] ?? Object.values(jobs)[0];
  if (!job) throw new Error(`qstat did not report job ${jobId}`);
  const limits = job.Resource_List as Record<string, unknown> | undefined;
  const used = job.resources_used as Record<string, unknown> | undefined;
  if (typeof limits?.walltime !== "string") throw new Error("the job has no walltime limit");
  const limitMs = parsePbsWalltime(limits.walltime);
  const usedMs = typeof used?.walltime === "string" ? parsePbsWalltime(used.walltime) : 0;
  if (usedMs > limitMs) throw new Error("the used walltime exceeds the limit");
  return limitMs - usedMs;
}

/** `scontrol show job <id>`: `TimeLimit − RunTime`. */
export async function slurmRemainingMs(jobId: string, run: CommandRunner): Promise<number> {
  const output = await run("scontrol", ["show", "job", jobId]);
  const fields = parseScontrolFields(output);
  const limit = fields.get("TimeLimit");
  const runTime = fields.get("RunTime");
  if (limit === undefined || runTime === undefined) {
    throw new Error("scontrol did not report TimeLimit and RunTime");
  }
  const limitMs = parseSlurmTime(limit);
  const usedMs = parseSlurmTime(runTime);
  if (usedMs > limitMs) throw new Error("the run time exceeds the time limit");
  return limitMs - usedMs;
}

/** PBS `[[H:]M:]S`. */
export function parsePbsWalltime(text: string): number {
  const parts = text.trim().split(":");
  if (parts.length > 3 || parts.some((part) => !/^\d+$/.test(part))) {
    throw new Error(`Invalid PBS walltime "${text}"`);
  }
  return parts.reduce((seconds, part) => seconds * 60 + Number(part), 0) * 1000;
}

/** Slurm `[D-]HH:MM:SS`, also `MM:SS` and `SS`. `UNLIMITED` and others are errors. */
export function parseSlurmTime(text: string): number {
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`Invalid Slurm time "${text}"`);
  const days = Number(match[1] ?? 0);
  const fields = [match[2], match[3], match[4]].filter((f) => f !== undefined).map(Number);
  // With a day prefix, a lone number is hours; otherwise fields fill seconds first.
  let seconds: number;
  if (fields.length === 3) seconds = fields[0] * 3600 + fields[1] * 60 + fields[2];
  else if (fields.length === 2) {
    seconds = match[1] !== undefined
      ? fields[0] * 3600 + fields[1] * 60
      : fields[0] * 60 + fields[1];
  } else seconds = match[1] !== undefined ? fields[0] * 3600 : fields[0];
  return (days * 86400 + seconds) * 1000;
}

/** Runs a command with a 30 s bound; throws with its stderr when it fails. */
export async function runCommand(program: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `\`${program} ${args.join(" ")}\` failed with code ${output.code}: ${
        decoder.decode(output.stderr).trim()
      }`,
    );
  }
  return decoder.decode(output.stdout);
}
