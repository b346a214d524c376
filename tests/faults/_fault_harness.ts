/**
 * Helpers for the fault-injection tests: a server that can be SIGKILLed and restarted on the same
 * server directory and journal, API submits for bursts, journal reading, sockets in /proc and a
 * small tmpfs. Builds on tests/harness.ts.
 */
import { HqClient } from "../../client/mod.ts";
import type { JournalRecord } from "../../common/journal/journal_events.ts";
import { decodeJournalRecord } from "../../common/journal/journal_events.ts";
import { readJournalFile } from "../../common/journal/journal_file.ts";
import type { SubmitDescription } from "../../common/job_types.ts";
import type { ClientRequest } from "../../common/protocol.ts";
import { joinPath } from "../../common/paths.ts";
import { hq, hqOk, type HqOptions, HqProcess, type HqResult, waitUntil } from "../harness.ts";
import { testTaskTemplate } from "../../server/scheduler/_test_fixtures.ts";

export interface FaultServerOptions {
  /** Root server directory, kept across restarts. */
  serverDir: string;
  /** Where the server's and its workers' stdout/stderr files go. */
  logDir: string;
  /** `--journal`; none when omitted. */
  journalPath?: string;
  /** More `hq server start` arguments. */
  args?: string[];
  /** Bound on the start. @default {20_000} */
  timeoutMs?: number;
}

/**
 * A server started in a directory the test owns, so that it can be killed and started again on
 * the same directory and journal. Disposing SIGKILLs it if it still runs; the directories are the
 * test's to remove.
 */
export class FaultServer implements AsyncDisposable {
  private constructor(
    readonly dir: string,
    readonly logDir: string,
    readonly process: HqProcess,
  ) {}

  /**
   * Starts `hq server start` and waits until this very process (checked by pid, as a killed
   * predecessor leaves its access file behind) answers a client.
   */
  static async start(options: FaultServerOptions): Promise<FaultServer> {
    const journal = options.journalPath === undefined ? [] : ["--journal", options.journalPath];
    const process = new HqProcess([
      "server",
      "start",
      "--server-dir",
      options.serverDir,
      "--host",
      "127.0.0.1",
      ...journal,
      ...(options.args ?? []),
    ], { logDir: options.logDir });
    const server = new FaultServer(options.serverDir, options.logDir, process);
    try {
      await waitUntil(async () => {
        if (process.exited) {
          throw new Error(`hq server start exited early:\n${process.stderr()}`);
        }
        return (await server.#answeringPid()) === process.pid;
      }, { timeoutMs: options.timeoutMs ?? 20_000, what: "the server to answer" });
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw error;
    }
    return server;
  }

  async #answeringPid(): Promise<number | undefined> {
    let client: HqClient | undefined;
    try {
      client = await HqClient.connect({ serverDir: this.dir, timeoutMs: 2_000 });
      return (await client.serverInfo()).pid;
    } catch {
      return undefined; // No access file yet, or a stale one.
    } finally {
      client?.close();
    }
  }

  /** An API connection; the caller closes it. */
  connect(): Promise<HqClient> {
    return HqClient.connect({ serverDir: this.dir });
  }

  /** Runs `hq --server-dir <dir> <args>`. */
  hq(args: string[], options: HqOptions = {}): Promise<HqResult> {
    return hq(["--server-dir", this.dir, ...args], options);
  }

  /**
   * Runs `hq --server-dir <dir> <args>` in the background and waits for it to exit, killing it
   * and failing when it is still running after `timeoutMs` (a `job wait` that never returns).
   */
  async hqWithin(args: string[], timeoutMs = 30_000): Promise<HqResult> {
    await using process = new HqProcess(["--server-dir", this.dir, ...args], {
      logDir: this.logDir,
    });
    await waitUntil(() => process.exited, {
      timeoutMs,
      intervalMs: 100,
      what: `hq ${args.join(" ")} to exit`,
    });
    const status = await process.status();
    return { code: status.code, stdout: process.stdout(), stderr: process.stderr() };
  }

  /** Like `hq`, but fails unless the exit code is 0; returns stdout. */
  hqOk(args: string[], options: HqOptions = {}): Promise<string> {
    return hqOk(["--server-dir", this.dir, ...args], options);
  }

  /** Runs `hq --server-dir <dir> --output-mode json <args>` and parses its stdout. */
  async hqJson<T = unknown>(args: string[], options: HqOptions = {}): Promise<T> {
    return JSON.parse(await this.hqOk(["--output-mode", "json", ...args], options));
  }

  /**
   * Starts `hq worker start` in the background with a `--work-dir` in the log directory. `env`
   * is added to the worker's environment (and so to its tasks').
   */
  startWorker(args: string[] = [], env: Record<string, string> = {}): HqProcess {
    const workDir = joinPath(this.logDir, `work-${crypto.randomUUID().slice(0, 8)}`);
    return new HqProcess(
      ["worker", "start", "--server-dir", this.dir, "--work-dir", workDir, ...args],
      { logDir: this.logDir, env },
    );
  }

  /** SIGKILLs the server and waits for it to be gone. */
  async kill(): Promise<void> {
    await this.process.stop("SIGKILL");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process.stop("SIGKILL");
  }
}

/**
 * A worker that may be SIGSTOPped: disposing resumes it before killing it, so that no stopped
 * process outlives the test.
 */
export function resumable(process: HqProcess): AsyncDisposable {
  return {
    async [Symbol.asyncDispose]() {
      process.kill("SIGCONT");
      await process.stop("SIGKILL");
    },
  };
}

// --- Jobs over the API ---

/**
 * A `submit` request for a new job of `count` tasks (ids 0…count-1) running `args`, with no
 * output files, as `hq submit` would build it from `submitDir`.
 */
export function submitRequest(
  args: string[],
  options: { submitDir: string; count?: number; name?: string },
): ClientRequest {
  const submit: SubmitDescription = {
    template: testTaskTemplate(options.submitDir, { args, cwd: "%{SUBMIT_DIR}" }),
    ids: [[0, (options.count ?? 1) - 1, 1]],
    entries: null,
  };
  return {
    type: "submit",
    jobId: null,
    name: options.name ?? args[0],
    maxFails: null,
    submit,
    autoIdCount: null,
  };
}

/** A job as `hq job list --output-mode json` prints it. */
export interface JobListJson {
  id: number;
  name: string;
  task_count: number;
  task_stats: Record<string, number>;
}

/** A task as `hq task list --output-mode json` prints it. */
export interface TaskListJson {
  id: number;
  state: string;
  worker?: number;
  error?: string;
}

/** The tasks of job `id`, from `hq task list <id> --output-mode json`. */
export async function taskList(server: FaultServer, id: number): Promise<TaskListJson[]> {
  const byJob = await server.hqJson<Record<string, TaskListJson[]>>(["task", "list", String(id)]);
  const tasks = byJob[String(id)];
  if (!Array.isArray(tasks)) throw new Error(`No tasks of job ${id}: ${JSON.stringify(byJob)}`);
  return tasks;
}

// --- Journal ---

/** Every complete record of the journal file at `path` (a torn tail is left out). */
export async function journalRecords(path: string): Promise<JournalRecord[]> {
  const { payloads } = await readJournalFile(path);
  return payloads.map((payload, i) => {
    const record = decodeJournalRecord(payload);
    if (record === null) throw new Error(`Journal record ${i} of "${path}" does not decode`);
    return record;
  });
}

// --- Processes and sockets ---

/** Socket inodes the process `pid` holds open (empty when it is gone). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`));
        if (match) inodes.add(match[1]);
      } catch {
        // The descriptor was closed while we looked.
      }
    }
  } catch {
    // The process is gone.
  }
  return inodes;
}

/** Whether `pid` has an ESTABLISHED TCP connection to port `port` (IPv4 or IPv6). */
export function isConnectedTo(pid: number, port: number): boolean {
  const inodes = socketInodes(pid);
  if (inodes.size === 0) return false;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const remotePort = parseInt(fields[2].split(":")[1], 16);
      // State 01 is ESTABLISHED.
      if (remotePort === port && fields[3] === "01" && inodes.has(fields[9])) return true;
    }
  }
  return false;
}

// --- File systems ---

/**
 * Mounts a tmpfs of `sizeKb` KiB on a fresh directory; disposing unmounts and removes it.
 * Returns null when mounting is not possible here (not root, no tmpfs).
 */
export async function mountTmpfs(
  sizeKb: number,
): Promise<(AsyncDisposable & { path: string; resize(sizeKb: number): Promise<void> }) | null> {
  const path = await Deno.makeTempDir({ prefix: "hq-tmpfs-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeKb}k`, "tmpfs", path],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  if (mount === null || !mount.success) {
    await Deno.remove(path).catch(() => {});
    return null;
  }
  return {
    path,
    async resize(newSizeKb: number) {
      const remount = await new Deno.Command("mount", {
        args: ["-o", `remount,size=${newSizeKb}k`, path],
        stderr: "piped",
      }).output();
      if (!remount.success) {
        throw new Error(`Cannot resize ${path}: ${new TextDecoder().decode(remount.stderr)}`);
      }
    },
    async [Symbol.asyncDispose]() {
      // Lazily, so that a process still holding the journal open cannot keep it mounted.
      await new Deno.Command("umount", { args: ["-l", path], stdout: "null", stderr: "null" })
        .output().catch(() => {});
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Whether this process can mount a tmpfs (root on Linux): decided once, for `ignore`. */
export async function canMountTmpfs(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  await using probe = await mountTmpfs(64);
  return probe !== null;
}
