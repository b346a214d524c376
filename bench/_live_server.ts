/**
 * A real `hq server start` in a child process, in a temporary server directory, on 127.0.0.1.
 * A child rather than an in-process `HqServer`: a server and its clients are separate processes
 * in production, and on 2 cores the server's event loop must not share a thread with the client
 * under test, or every figure would include the other side's work.
 */
import { HqClient } from "../client/mod.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const START_TIMEOUT_MS = 20_000;

export interface LiveServerOptions {
  /** Start with `--disable-client-authentication-and-encryption`. @default {false} */
  plainClients?: boolean;
}

export interface LiveServer extends AsyncDisposable {
  serverDir: string;
  pid: number;
}

/** Starts a server and resolves once a client got an answer from it. */
export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  const serverDir = await Deno.makeTempDir({ prefix: "hq-bench-" });
  const args = ["run", "-A", "--quiet", MAIN_TS, "server", "start", "--server-dir", serverDir];
  args.push("--host", "127.0.0.1");
  if (options.plainClients) args.push("--disable-client-authentication-and-encryption");
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const dispose = async () => {
    try {
      const client = await HqClient.connect({ serverDir, timeoutMs: 2_000 });
      await client.stopServer().finally(() => client.close());
    } catch {
      // Not reachable: the kill below ends it.
    }
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 3_000)),
    ]);
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
    }
    await Deno.remove(serverDir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const client = await HqClient.connect({ serverDir, timeoutMs: 2_000 });
      await client.serverInfo().finally(() => client.close());
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await dispose();
        throw new Error(`hq server in "${serverDir}" did not come up`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { serverDir, pid: child.pid, [Symbol.asyncDispose]: dispose };
}
