/**
 * A real `hq server start` in a child process, in a temporary server directory, on 127.0.0.1.
 * A child rather than an in-process `HqServer`: a server and its clients are separate processes
 * in production, and on 2 cores the server's event loop must not share a thread with the client
 * under test, or every figure would include the other side's work.
 */
import { HqClient } from "../client/mod.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 3_000;
/** What `captureStderr: true` names the file with the server's stderr, in the server directory. */
export const SERVER_STDERR_FILE = "server-stderr.log";

export interface LiveServerOptions {
  /** Start with `--disable-client-authentication-and-encryption`. @default {false} */
  plainClients?: boolean;
  /** More arguments for `hq server start`, e.g. `["--journal", path]`. @default {[]} */
  args?: string[];
  /** Flags for `deno run` before the script, e.g. `["--cpu-prof", "--cpu-prof-dir=DIR"]`. */
  denoFlags?: string[];
  /**
   * Write the server's stderr (its log) to `SERVER_STDERR_FILE` in the server directory instead
   * of dropping it; `LiveServer.stderrPath` names it. @default {false}
   */
  captureStderr?: boolean;
  /** How long the server may take to answer its first `server info`. @default {20_000} */
  startTimeoutMs?: number;
  /** How long disposal waits for the process to exit after `stop-server` before killing it. */
  stopTimeoutMs?: number;
}

export interface LiveServer extends AsyncDisposable {
  serverDir: string;
  pid: number;
  /** Milliseconds from spawning the process until it first answered `server info`. */
  readyMs: number;
  /** The file with the server's stderr, or null when it was not captured. */
  stderrPath: string | null;
  /**
   * Asks the server to stop and waits for the process to exit (killing it after the stop
   * timeout); keeps the server directory. Disposing afterwards only removes the directory.
   */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts a server and resolves once a client got an answer from it. */
export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  const serverDir = await Deno.makeTempDir({ prefix: "hq-bench-" });
  const args = ["run", "-A", "--quiet", ...options.denoFlags ?? [], MAIN_TS];
  args.push("server", "start", "--server-dir", serverDir, "--host", "127.0.0.1");
  if (options.plainClients) args.push("--disable-client-authentication-and-encryption");
  args.push(...options.args ?? []);
  const stderrPath = options.captureStderr ? `${serverDir}/${SERVER_STDERR_FILE}` : null;
  const spawnedAt = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: stderrPath ? "piped" : "null",
  }).spawn();
  const stderrDone = stderrPath ? copyToFile(child.stderr, stderrPath) : Promise.resolve();
  let exited = false;
  child.status.then(() => exited = true);
  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        const client = await HqClient.connect({ serverDir, timeoutMs: 2_000 });
        await client.stopServer().finally(() => client.close());
      } catch {
        // Not reachable: the kill below ends it.
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), options.stopTimeoutMs ?? STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!ended) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }
      const status = await child.status;
      await stderrDone;
      return status;
    })();
  const dispose = async () => {
    await stop();
    await Deno.remove(serverDir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? START_TIMEOUT_MS);
  let readyMs: number;
  for (;;) {
    try {
      const client = await HqClient.connect({ serverDir, timeoutMs: 2_000 });
      await client.serverInfo().finally(() => client.close());
      readyMs = performance.now() - spawnedAt;
      break;
    } catch (error) {
      if (exited || Date.now() > deadline) {
        const exitedEarly = exited;
        const status = await stop();
        const log = stderrPath ? await Deno.readTextFile(stderrPath).catch(() => "") : "";
        await dispose();
        const how = exitedEarly ? `exited with ${status.code}` : "did not come up";
        throw new Error(`hq server in "${serverDir}" ${how}${log && `:\n${log}`}`, {
          cause: error,
        });
      }
      // Short polls: the time until the first answer is a figure of the journal benchmark.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return { serverDir, pid: child.pid, readyMs, stderrPath, stop, [Symbol.asyncDispose]: dispose };
}

/**
 * Copies a stream into a file as it arrives. Not `pipeTo(file.writable)`: with Deno 2.9 the
 * bytes only reached the file when the stream ended.
 */
async function copyToFile(stream: ReadableStream<Uint8Array>, path: string): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for await (const chunk of stream) {
    for (let offset = 0; offset < chunk.length;) offset += await file.write(chunk.subarray(offset));
  }
}
