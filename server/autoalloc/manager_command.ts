/**
 * Running qsub/sbatch/qstat/scontrol/qdel/scancel (spec §2.7): without a shell, in a given
 * directory, with the command's output in the error when it fails.
 */
import { describeError, HqError } from "../../common/errors.ts";
import { formatDuration } from "../../common/duration.ts";
import { joinPath } from "../../common/paths.ts";
import { SUBMIT_SCRIPT_FILE } from "./submit_script.ts";

/** A manager command could not be run, failed or timed out; the message says which and why. */
export class ManagerCommandError extends HqError {
  /** What the command printed on stdout before it exited non-zero (empty otherwise). */
  stdout = "";
  /** Its exit code, when it exited non-zero. */
  commandExitCode: number | null = null;
}

/**
 * Submitting an allocation failed. The message is the error text a user sees (`hq alloc info`,
 * the dry run), e.g. `Exit code: 1\nStderr: …\nStdout: …`.
 */
export class AllocationSubmitError extends HqError {
  constructor(
    message: string,
    /** The submit script, when it was written. */
    readonly scriptPath: string | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface ManagerCommandOptions {
  /** Working directory of the command. */
  cwd: string;
  /** Variables added to the server's environment (tests point PATH at a stand-in). */
  env?: Record<string, string>;
  /** Kill the command after this long: a hung qstat must not stall the allocator forever.
   * @default {DEFAULT_COMMAND_TIMEOUT_MS} */
  timeoutMs?: number;
}

/** sbatch can block for a while on a busy controller; two minutes is far beyond that. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/**
 * Runs `program args…` and returns its stdout. Throws ManagerCommandError when the program cannot
 * be started, exits non-zero (`Exit code: <c>\nStderr: <…>\nStdout: <…>`, as HyperQueue words it;
 * `None` for a signal) or runs past the timeout.
 */
export async function runManagerCommand(
  program: string,
  args: string[],
  options: ManagerCommandOptions,
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
  } catch (error) {
    throw await spawnError(program, options.cwd, error);
  }
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout);
  if (signal.aborted) {
    throw new ManagerCommandError(
      `Command \`${[program, ...args].join(" ")}\` did not finish within ${
        formatDuration(timeoutMs)
      }`,
    );
  }
  if (!output.success) {
    const code = output.signal === null ? String(output.code) : "None";
    const error = new ManagerCommandError(
      `Exit code: ${code}\nStderr: ${
        decoder.decode(output.stderr).trim()
      }\nStdout: ${stdout.trim()}`,
    );
    error.stdout = stdout;
    error.commandExitCode = output.code;
    throw error;
  }
  return stdout;
}

async function spawnError(program: string, cwd: string, error: unknown): Promise<HqError> {
  if (error instanceof Deno.errors.NotFound) {
    // Deno reports a missing working directory as NotFound too.
    const cwdExists = await Deno.stat(cwd).then(() => true, () => false);
    if (!cwdExists) {
      return new ManagerCommandError(
        `Cannot run "${program}": its working directory "${cwd}" does not exist`,
      );
    }
    const where = program.includes("/") ? "" : " on PATH";
    return new ManagerCommandError(`Cannot run "${program}": program not found${where}`);
  }
  return new ManagerCommandError(`Cannot run "${program}": ${describeError(error)}`, {
    cause: error,
  });
}

/**
 * Runs `<program> <dir>/hq-submit.sh` in `dir` and reads the job id from its stdout with
 * `parseJobId` (which throws a plain Error with the message to show). Every failure becomes an
 * AllocationSubmitError naming the script.
 */
export async function runSubmitCommand(
  program: string,
  options: Omit<ManagerCommandOptions, "cwd"> & {
    dir: string;
    parseJobId: (stdout: string) => string;
  },
): Promise<string> {
  const scriptPath = joinPath(options.dir, SUBMIT_SCRIPT_FILE);
  try {
    const stdout = await runManagerCommand(program, [scriptPath], {
      cwd: options.dir,
      env: options.env,
      timeoutMs: options.timeoutMs,
    });
    return options.parseJobId(stdout);
  } catch (error) {
    throw new AllocationSubmitError(describeError(error), scriptPath, { cause: error });
  }
}
