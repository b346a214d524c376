/**
 * End-to-end test harness: runs the real `hq` (`deno run -A main.ts`) in temporary server
 * directories, waits for states by polling against a deadline, and kills what it started.
 */
import { dirname, joinPath } from "../common/paths.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

export interface HqResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HqOptions {
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string;
}

/** The command line that runs hq, for tests that spawn it themselves. */
export function hqCommand(args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", "--quiet", MAIN_TS, ...args];
}

/** Runs `hq <args>` to completion. `HQ_*` variables of the test process are not inherited. */
export async function hq(args: string[], options: HqOptions = {}): Promise<HqResult> {
  const [program, ...rest] = hqCommand(args);
  const child = new Deno.Command(program, {
    args: rest,
    cwd: options.cwd,
    env: cleanEnv(options.env),
    clearEnv: true,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Like `hq`, but fails the test unless the exit code is 0; returns stdout. */
export async function hqOk(args: string[], options: HqOptions = {}): Promise<string> {
  const result = await hq(args, options);
  if (result.code !== 0) {
    throw new Error(
      `hq ${
        args.join(" ")
      } exited with ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return result.stdout;
}

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(Deno.env.toObject())) {
    if (!key.startsWith("HQ_") && key !== "NO_COLOR") env[key] = value;
  }
  return { ...env, ...extra };
}

/** Polls `check` until it returns a non-undefined value or the deadline passes. */
export async function waitUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? "a condition"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** A temporary directory removed by `[Symbol.asyncDispose]`. */
export async function tempDir(prefix = "hq-test-"): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** A running `hq` process started in the background. */
export class HqProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly stderrFile: string;
  readonly stdoutFile: string;
  #status: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(args: string[], options: HqOptions & { logDir: string }) {
    const [program, ...rest] = hqCommand(args);
    const id = crypto.randomUUID().slice(0, 8);
    this.stdoutFile = joinPath(options.logDir, `hq-${id}.stdout`);
    this.stderrFile = joinPath(options.logDir, `hq-${id}.stderr`);
    Deno.writeTextFileSync(this.stdoutFile, "");
    Deno.writeTextFileSync(this.stderrFile, "");
    // The process writes straight to files, so a chatty server can never block on a full pipe;
    // `exec` keeps the pid that of hq itself.
    this.child = new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'out=$1; err=$2; shift 2; exec "$@" >>"$out" 2>>"$err"',
        "sh",
        this.stdoutFile,
        this.stderrFile,
        program,
        ...rest,
      ],
      cwd: options.cwd,
      env: cleanEnv(options.env),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#status = this.child.status.then((status) => {
      this.#exited = true;
      return status;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  stdout(): string {
    return Deno.readTextFileSync(this.stdoutFile);
  }

  stderr(): string {
    return Deno.readTextFileSync(this.stderrFile);
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** Waits for exit within `timeoutMs`, then SIGKILLs. */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 10_000): Promise<Deno.CommandStatus> {
    this.kill(signal);
    const timer = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    try {
      return await this.#status;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#exited) await this.stop("SIGKILL");
  }
}

/**
 * A server with one `--cpus 2` worker (id 1) that has registered. Disposing stops the worker
 * first (SIGTERM: it stops its tasks), then the server.
 */
export async function cluster(
  workerArgs: string[] = [],
): Promise<AsyncDisposable & { server: TestServer }> {
  const stack = new AsyncDisposableStack();
  try {
    const server = stack.use(await TestServer.start());
    stack.use(server.startWorker(["--cpus", "2", ...workerArgs]));
    await server.waitForWorkerState(1, "RUNNING");
    const owned = stack.move();
    return { server, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** A server started with `hq server start` in its own temporary server directory. */
export class TestServer implements AsyncDisposable {
  private constructor(
    readonly dir: string,
    readonly process: HqProcess,
    readonly ownsDir: boolean,
  ) {}

  /**
   * Starts a server on 127.0.0.1 and waits until `access.json` is in place and the client port
   * answers. `serverDir` defaults to a fresh temporary directory.
   */
  static async start(
    options: { serverDir?: string; args?: string[]; env?: Record<string, string> } = {},
  ): Promise<TestServer> {
    const dir = options.serverDir ?? await Deno.makeTempDir({ prefix: "hq-server-" });
    const logDir = await Deno.makeTempDir({ prefix: "hq-logs-" });
    const process = new HqProcess(
      ["server", "start", "--server-dir", dir, "--host", "127.0.0.1", ...(options.args ?? [])],
      { logDir, env: options.env },
    );
    const server = new TestServer(dir, process, options.serverDir === undefined);
    try {
      await waitUntil(async () => {
        if (process.exited) {
          throw new Error(`hq server start exited early:\n${process.stderr()}`);
        }
        return (await hq(["server", "info", "--server-dir", dir])).code === 0;
      }, { what: "the server to answer" });
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw error;
    }
    return server;
  }

  /** Runs `hq <args> --server-dir <dir>`. */
  hq(args: string[], options: HqOptions = {}): Promise<HqResult> {
    return hq([...args, "--server-dir", this.dir], options);
  }

  /** Runs `hq <args> --server-dir <dir>`, failing unless it exits 0; returns stdout. */
  hqOk(args: string[], options: HqOptions = {}): Promise<string> {
    return hqOk([...args, "--server-dir", this.dir], options);
  }

  /**
   * Starts `hq worker start --server-dir <dir> <args>` in the background, logging beside the
   * server. Unless `args` name one, the worker gets a `--work-dir` that is removed with the
   * server, so tests leave no `hq-worker…` directories behind.
   */
  startWorker(args: string[] = [], options: HqOptions = {}): HqProcess {
    const logDir = dirname(this.process.stdoutFile);
    const workDir = args.some((arg) => arg === "--work-dir" || arg.startsWith("--work-dir="))
      ? []
      : ["--work-dir", joinPath(logDir, `work-${crypto.randomUUID().slice(0, 8)}`)];
    return new HqProcess(
      ["worker", "start", "--server-dir", this.dir, ...workDir, ...args],
      { ...options, logDir },
    );
  }

  /** Worker states by id, from `hq worker list --all --output-mode quiet`. */
  async workerStates(): Promise<Map<number, string>> {
    const stdout = await this.hqOk(["worker", "list", "--all", "--output-mode", "quiet"]);
    const states = new Map<number, string>();
    for (const line of stdout.split("\n").filter((line) => line !== "")) {
      const space = line.indexOf(" ");
      states.set(Number(line.slice(0, space)), line.slice(space + 1));
    }
    return states;
  }

  /** Polls `worker list --all` until worker `id` is in `state` (a cli word such as `RUNNING`). */
  async waitForWorkerState(
    id: number,
    state: string,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    let last: string | undefined;
    try {
      await waitUntil(async () => {
        last = (await this.workerStates()).get(id);
        return last === state;
      }, { timeoutMs: options.timeoutMs, intervalMs: 100, what: `worker ${id} to be ${state}` });
    } catch (error) {
      throw new Error(`${(error as Error).message} (last seen: ${last ?? "not listed"})`);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process.stop("SIGTERM");
    await Deno.remove(dirname(this.process.stdoutFile), { recursive: true }).catch(() => {});
    if (this.ownsDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

// --- Jobs: submitting, waiting and reading `--output-mode json` ---

/**
 * Runs `hq --server-dir <dir> <args>`. `TestServer.hq` appends `--server-dir`, which the trailing
 * command of `hq submit` would swallow.
 */
export function hqAt(
  server: TestServer,
  args: string[],
  options: HqOptions = {},
): Promise<HqResult> {
  return hq(["--server-dir", server.dir, ...args], options);
}

/** Like `hqAt`, but fails the test unless the exit code is 0; returns stdout. */
export function hqOkAt(
  server: TestServer,
  args: string[],
  options: HqOptions = {},
): Promise<string> {
  return hqOk(["--server-dir", server.dir, ...args], options);
}

/** Submits with `--output-mode quiet` from `options.cwd` and returns the job id. */
export async function submitJob(
  server: TestServer,
  args: string[],
  options: HqOptions & { cwd: string },
): Promise<number> {
  const stdout = await hqOkAt(server, ["--output-mode", "quiet", "submit", ...args], options);
  // With `--stdin` a notice comes first: the id is the last line.
  const id = stdout.trimEnd().split("\n").at(-1)!;
  if (!/^\d+$/.test(id)) throw new Error(`hq submit printed no job id:\n${stdout}`);
  return Number(id);
}

/**
 * Runs `hq --server-dir <dir> <args>` in the background and waits for it to exit, killing it and
 * failing when it is still running after `timeoutMs` (a `job wait` that never returns).
 */
export async function hqWithin(
  server: TestServer,
  args: string[],
  options: HqOptions & { timeoutMs?: number } = {},
): Promise<HqResult> {
  // Logs go beside the server's, which are removed with it.
  await using process = new HqProcess(["--server-dir", server.dir, ...args], {
    ...options,
    logDir: dirname(server.process.stdoutFile),
  });
  await waitUntil(() => process.exited, {
    timeoutMs: options.timeoutMs ?? 30_000,
    intervalMs: 100,
    what: `hq ${args.join(" ")} to exit`,
  });
  const status = await process.status();
  return { code: status.code, stdout: process.stdout(), stderr: process.stderr() };
}

/** `hq job wait <id>`, which must return 0 within `timeoutMs`. */
export async function waitForJob(
  server: TestServer,
  id: number,
  timeoutMs = 30_000,
): Promise<void> {
  const result = await hqWithin(server, ["job", "wait", String(id)], { timeoutMs });
  if (result.code !== 0) {
    throw new Error(`hq job wait ${id} exited with ${result.code}: ${result.stderr}`);
  }
}

/** A task object of spec §9.3 as `--output-mode json` prints it. */
export interface TaskJson {
  id: number;
  state: string;
  error?: string;
  worker?: number;
  started_at?: string;
  finished_at?: string;
  cwd?: string;
  stdout?: string | null;
  stderr?: string | null;
}

/** The task objects of job `id`, from `hq task list <id> --output-mode json`. */
export async function taskObjects(server: TestServer, id: number): Promise<TaskJson[]> {
  const byJob = JSON.parse(
    await hqOkAt(server, ["--output-mode", "json", "task", "list", String(id)]),
  );
  const tasks = byJob[String(id)];
  if (!Array.isArray(tasks)) {
    throw new Error(`No tasks of job ${id} listed: ${JSON.stringify(byJob)}`);
  }
  return tasks;
}

/** Pids of live processes whose argv is exactly `argv` and whose environment holds `marker`. */
export function processesWith(argv: string[], marker: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (cmdline.at(-1) === "") cmdline.pop();
      if (cmdline.length !== argv.length || cmdline.some((arg, i) => arg !== argv[i])) continue;
      const environ = Deno.readTextFileSync(`/proc/${entry.name}/environ`).split("\0");
      if (environ.includes(marker)) pids.push(Number(entry.name));
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return pids;
}
