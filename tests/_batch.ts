/**
 * Batch systems for end-to-end tests: the real one-node Slurm (shared/slurm) and the PBS
 * stand-in (shared/pbs). Each submits a command as a job with a 10-minute wall time and
 * cancels every job it submitted when disposed, even after a failed test.
 */
import { waitUntil } from "./harness.ts";

/** Where the PBS stand-in's `qsub`, `qstat`, `qdel`, `qselect` live. */
/** The shared folder beside the repository (CI sets `HQ_SHARED_DIR`). */
export const SHARED_DIR = Deno.env.get("HQ_SHARED_DIR") ??
  new URL("../../shared", import.meta.url).pathname.replace(/\/$/, "");
export const PBS_STAND_IN_DIR = `${SHARED_DIR}/pbs`;

/**
 * An environment with the PBS stand-in first on PATH and its own state directory (for a server
 * whose allocator runs qsub, and for the test's own qselect/qdel).
 */
export function pbsTestEnv(
  stateDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: `${PBS_STAND_IN_DIR}:${Deno.env.get("PATH")}`,
    MOCKPBS_DIR: stateDir,
    ...extra,
  };
}

/** Deletes every job of the stand-in in `env`'s state directory that has not finished. */
export async function qdelAll(env: Record<string, string>): Promise<void> {
  const out = await new Deno.Command("qselect", { env, stdout: "piped", stderr: "null" }).output()
    .catch(() => null);
  const ids = out ? new TextDecoder().decode(out.stdout).split("\n").filter((id) => id !== "") : [];
  if (ids.length > 0) {
    await new Deno.Command("qdel", { args: ids, env, stdout: "null", stderr: "null" }).output();
  }
}

/** Wall time every job asks for; a worker in it gets about this much as its time limit. */
export const JOB_WALLTIME_SEC = 600;

/** `HH:MM:SS`, as both `sbatch --time` and `qsub -l walltime` take it. */
const WALLTIME = [JOB_WALLTIME_SEC / 3600, (JOB_WALLTIME_SEC / 60) % 60, JOB_WALLTIME_SEC % 60]
  .map((part) => String(Math.floor(part)).padStart(2, "0"))
  .join(":");

export interface BatchSystem extends AsyncDisposable {
  /** `SLURM`/`PBS`: the word of `worker list`/`info`. */
  readonly cliManager: "SLURM" | "PBS";
  /** `Slurm`/`PBS`: the word of the JSON `allocation.manager`. */
  readonly jsonManager: "Slurm" | "PBS";
  /** Submits `command` (absolute program path first); resolves with the job id. */
  submit(command: string[]): Promise<string>;
  /** Cancels a job, as a user would (`scancel`/`qdel`). */
  cancel(jobId: string): Promise<void>;
  /** The job's stdout and stderr so far, for failure messages. */
  output(jobId: string): string;
  /** How long the job has been running, as the batch system reports it. */
  runTimeSec(jobId: string): Promise<number>;
  /** A line about the job's state from the batch system, for failure messages. */
  describe(jobId: string): Promise<string>;
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(program: string, args: string[], env: Record<string, string>): Promise<Output> {
  const output = await new Deno.Command(program, {
    args,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function runOk(
  program: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const result = await run(program, args, env);
  if (result.code !== 0) {
    throw new Error(`${program} ${args.join(" ")} exited with ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

/**
 * The test's environment without anything that would steer the worker: `HQ_*` options and the
 * markers of a batch job the tests themselves might run in (a worker checks PBS first).
 */
function jobEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(Deno.env.toObject())) {
    if (!/^(HQ_|SLURM_|PBS_|MOCKPBS_)/.test(key) && key !== "NO_COLOR") env[key] = value;
  }
  return { ...env, ...extra };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** Real Slurm through `sbatch --wrap`, optionally running the command as an `srun` step. */
export class Slurm implements BatchSystem {
  readonly cliManager = "SLURM";
  readonly jsonManager = "Slurm";
  readonly #jobIds: string[] = [];
  readonly #env = jobEnvironment();

  private constructor(readonly logDir: string, readonly viaSrun: boolean) {}

  /** Fails (never skips) when Slurm is not installed: CI starts it for these tests. */
  static async create(options: { viaSrun?: boolean } = {}): Promise<Slurm> {
    try {
      await run("sbatch", ["--version"], jobEnvironment());
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(
          `sbatch is not on PATH: these tests need a running Slurm (start it with ${SHARED_DIR}/slurm/slurm-up.sh)`,
        );
      }
      throw error;
    }
    return new Slurm(await Deno.makeTempDir({ prefix: "hq-slurm-" }), options.viaSrun ?? false);
  }

  async submit(command: string[]): Promise<string> {
    const line = command.map(shellQuote).join(" ");
    const stdout = await runOk("sbatch", [
      "--parsable",
      `--time=${WALLTIME}`,
      `--output=${this.logDir}/slurm-%j.out`,
      "--wrap",
      this.viaSrun ? `srun ${line}` : line,
    ], this.#env);
    const jobId = stdout.trim().split(";")[0];
    this.#jobIds.push(jobId);
    return jobId;
  }

  async cancel(jobId: string): Promise<void> {
    await runOk("scancel", [jobId], this.#env);
  }

  output(jobId: string): string {
    return readOrEmpty(`${this.logDir}/slurm-${jobId}.out`);
  }

  async runTimeSec(jobId: string): Promise<number> {
    const stdout = await runOk("scontrol", ["show", "job", jobId], this.#env);
    const runTime = / RunTime=(?:(\d+)-)?(\d+):(\d+):(\d+)/.exec(stdout);
    if (runTime === null) throw new Error(`No RunTime in scontrol's answer:\n${stdout}`);
    const [days, hours, minutes, seconds] = runTime.slice(1).map((part) => Number(part ?? 0));
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
  }

  async describe(jobId: string): Promise<string> {
    const result = await run("squeue", ["-j", jobId, "-h", "-o", "%i %T %r"], this.#env);
    return `squeue: ${result.stdout.trim() || result.stderr.trim() || "(job gone)"}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#jobIds.length > 0) await run("scancel", this.#jobIds, this.#env).catch(() => {});
    await Deno.remove(this.logDir, { recursive: true }).catch(() => {});
  }
}

/** The PBS stand-in through `qsub -- <command>`, in a state directory of its own. */
export class Pbs implements BatchSystem {
  readonly cliManager = "PBS";
  readonly jsonManager = "PBS";

  private constructor(readonly stateDir: string, readonly logDir: string) {}

  get #env(): Record<string, string> {
    return jobEnvironment({
      PATH: `${PBS_STAND_IN_DIR}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      MOCKPBS_DIR: this.stateDir,
    });
  }

  static async create(): Promise<Pbs> {
    try {
      await Deno.stat(`${PBS_STAND_IN_DIR}/qsub`);
    } catch {
      throw new Error(`The PBS stand-in is missing: no ${PBS_STAND_IN_DIR}/qsub`);
    }
    return new Pbs(
      await Deno.makeTempDir({ prefix: "hq-mockpbs-" }),
      await Deno.makeTempDir({ prefix: "hq-pbs-logs-" }),
    );
  }

  async submit(command: string[]): Promise<string> {
    const stdout = await runOk("qsub", [
      ...["-l", `walltime=${WALLTIME}`],
      ...["-o", `${this.logDir}/job.out`, "-e", `${this.logDir}/job.err`],
      "--",
      ...command,
    ], this.#env);
    return stdout.trim();
  }

  async cancel(jobId: string): Promise<void> {
    await runOk("qdel", [jobId], this.#env);
  }

  output(_jobId: string): string {
    return readOrEmpty(`${this.logDir}/job.out`) + readOrEmpty(`${this.logDir}/job.err`);
  }

  async runTimeSec(jobId: string): Promise<number> {
    const stdout = await runOk("qstat", ["-f", jobId, "-F", "json"], this.#env);
    const walltime: string | undefined = JSON.parse(stdout).Jobs?.[jobId]?.resources_used?.walltime;
    if (walltime === undefined) return 0;
    return walltime.split(":").reduce((total, part) => total * 60 + Number(part), 0);
  }

  async describe(jobId: string): Promise<string> {
    const result = await run("qstat", [jobId], this.#env);
    return `qstat: ${result.stdout.trim() || result.stderr.trim()}`;
  }

  /** `qselect | xargs -r qdel`, then waits for the jobs to finish before removing their state. */
  async [Symbol.asyncDispose](): Promise<void> {
    const pending = async () =>
      (await run("qselect", [], this.#env)).stdout.split("\n").filter((id) => id !== "");
    try {
      const ids = await pending();
      if (ids.length > 0) await run("qdel", ids, this.#env);
      await waitUntil(async () => (await pending()).length === 0, {
        timeoutMs: 15_000,
        intervalMs: 200,
        what: "the PBS stand-in's jobs to finish",
      });
    } finally {
      await Deno.remove(this.stateDir, { recursive: true }).catch(() => {});
      await Deno.remove(this.logDir, { recursive: true }).catch(() => {});
    }
  }
}
