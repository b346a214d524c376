/**
 * The scripts given to qsub and sbatch (spec §2.6), byte for byte as HyperQueue writes them, so
 * sites' wrappers and users' expectations keep working.
 */
import type { QueueParams } from "../../common/autoalloc.ts";
import { formatDuration } from "../../common/duration.ts";
import { joinPath } from "../../common/paths.ts";

/** The script's file name in the allocation's directory. */
export const SUBMIT_SCRIPT_FILE = "hq-submit.sh";

export interface ScriptOptions {
  params: QueueParams;
  /** Nodes of this allocation, one worker each. */
  workerCount: number;
  /** The allocation's directory (absolute): `stdout` and `stderr` go there. */
  dir: string;
  /** `<name>-<n>` or `hq-<queue>-<n>` (see allocationName). */
  allocationName: string;
  /** Absolute path of an `hq` runnable on the compute nodes. */
  hqPath: string;
  /** The server's instance directory (absolute), where workers find `access.json`. */
  serverDir: string;
  /** PBS: hold the job (`#PBS -h`). Slurm has no such line (its dry run submits for real). */
  dryRun: boolean;
  /** The server's `RUST_LOG`, forwarded to the workers verbatim; null when unset. */
  rustLog: string | null;
}

/** `<name>-<attempt>` when the queue has a name, else `hq-<queue id>-<attempt>`. */
export function allocationName(queueId: number, name: string | null, attempt: number): string {
  return name === null ? `hq-${queueId}-${attempt}` : `${name}-${attempt}`;
}

export function pbsSubmitScript(options: ScriptOptions): string {
  const { params, workerCount, dir } = options;
  const lines = [
    "#!/bin/bash",
    `#PBS -l select=${workerCount}`,
    `#PBS -N ${options.allocationName}`,
    `#PBS -o ${joinPath(dir, "stdout")}`,
    `#PBS -e ${joinPath(dir, "stderr")}`,
    `#PBS -l walltime=${formatManagerTime(params.timeLimitMs)}`,
  ];
  if (params.additionalArgs.length > 0) lines.push(`#PBS ${params.additionalArgs.join(" ")}`);
  if (options.dryRun) lines.push("#PBS -h");
  const worker = workerLine(options);
  // HyperQueue puts the line between single quotes as it is; escaping the quotes changes nothing
  // for lines without any and keeps a start command like `echo 'x'` from breaking the script.
  lines.push("", workerCount > 1 ? `pbsdsh -- bash -l -c ${singleQuoted(worker)}` : worker);
  return lines.join("\n");
}

export function slurmSubmitScript(options: ScriptOptions): string {
  const { params, workerCount, dir } = options;
  const lines = [
    "#!/bin/bash",
    `#SBATCH --nodes=${workerCount}`,
    `#SBATCH --job-name=${options.allocationName}`,
    `#SBATCH --output=${joinPath(dir, "stdout")}`,
    `#SBATCH --error=${joinPath(dir, "stderr")}`,
    `#SBATCH --time=${formatManagerTime(params.timeLimitMs)}`,
  ];
  if (params.additionalArgs.length > 0) lines.push(`#SBATCH ${params.additionalArgs.join(" ")}`);
  const worker = workerLine(options);
  lines.push(
    "",
    workerCount > 1
      ? `srun --overlap --ntasks=${workerCount} --nodes=${workerCount} ${worker}`
      : worker,
  );
  return lines.join("\n");
}

/**
 * `[<start-cmd> && ]<CORE>[; <stop-cmd>]` with
 * `CORE = [RUST_LOG=<v> ][<wrap-cmd> ]<hq> worker start --idle-timeout "…" --manager "…"
 * --server-dir "…"[ <worker args>]`.
 */
export function workerLine(options: ScriptOptions): string {
  const { params } = options;
  let core = "";
  if (options.rustLog !== null) core += `RUST_LOG=${options.rustLog} `;
  const wrap = params.workerWrapCmd?.trim() ?? "";
  if (wrap !== "") core += `${wrap} `;
  core += `${options.hqPath} worker start --idle-timeout "${
    formatDuration(params.idleTimeoutMs)
  }" --manager "${params.manager}" --server-dir "${options.serverDir}"`;
  if (params.workerArgs.length > 0) core += ` ${params.workerArgs.join(" ")}`;
  let line = core;
  if (params.workerStartCmd !== null) line = `${params.workerStartCmd} && ${line}`;
  if (params.workerStopCmd !== null) line = `${line}; ${params.workerStopCmd}`;
  return line;
}

/** `HH:MM:SS`, fields zero-padded to two digits, hours unbounded (`48:00:00`); whole seconds. */
export function formatManagerTime(ms: number): string {
  const totalSec = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(Math.floor(totalSec / 3600))}:${two(Math.floor(totalSec / 60) % 60)}:${
    two(totalSec % 60)
  }`;
}

function singleQuoted(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
