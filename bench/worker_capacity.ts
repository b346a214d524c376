/**
 * How many workers one server holds: simulated workers (many connections from one process, the
 * real protocol and real encryption: handshake, registration, a heartbeat every second) against a
 * real `hq server start`. Reports the server's CPU (% of one core, over a 10 s window once every
 * worker is registered) and RSS at 1,000 and 10,000 workers, next to the platform floor measured
 * in the same run: a bare Deno listener reading the same number of connections' messages.
 *
 *   deno run -A bench/worker_capacity.ts [--counts 1000,10000] [--window-ms 10000]
 *   deno run -A bench/worker_capacity.ts --simulate N --server-dir D   (the simulator itself)
 */
import type { BenchRow } from "./_bench_row.ts";
import { formatTable } from "./_bench_row.ts";
import { startLiveServer } from "./_live_server.ts";
import { testWorkerConfiguration } from "../server/scheduler/_test_fixtures.ts";
import { HqClient } from "../client/mod.ts";
import { loadWorkerEndpoint } from "../common/server_dir.ts";
import {
  isServerToWorkerMessage,
  type ServerToWorkerMessage,
  type WorkerConfiguration,
  type WorkerMessage,
} from "../common/protocol.ts";
import { connectSession, type MessageConnection } from "../common/transport/mod.ts";

const HEARTBEAT_MS = 1_000;
const CONNECT_CONCURRENCY = 64;

/** Runs N simulated workers until stdin closes; prints `ready` once all registered. */
async function simulate(count: number, serverDir: string): Promise<void> {
  const endpoint = loadWorkerEndpoint(serverDir);
  const links: Array<MessageConnection<ServerToWorkerMessage, WorkerMessage>> = [];
  let next = 0;
  const connect = () =>
    connectSession<ServerToWorkerMessage, WorkerMessage>({
      host: endpoint.host,
      port: endpoint.port,
      role: "worker",
      secretKey: endpoint.secretKey,
      isMessage: isServerToWorkerMessage,
    });
  const connectOne = async (index: number) => {
    // A busy server's accept queue can overflow; real workers retry, and so does the simulator.
    let link;
    for (let attempt = 1;; attempt++) {
      try {
        link = await connect();
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
    link.send({ type: "register", configuration: configuration(index) });
    const batches = link.batches();
    const first = await batches.next();
    if (first.done || first.value[0]?.type !== "registered") throw new Error("not registered");
    // Keep reading so the server's messages do not pile up in the socket.
    (async () => {
      for await (const _ of batches) { /* nothing to do */ }
    })().catch(() => {});
    links.push(link);
    // Like a real worker: heartbeats start right after registration. The random phase spreads
    // them over the second, as independent workers would send them.
    setTimeout(() => {
      link.send({ type: "heartbeat" });
      setInterval(() => link.send({ type: "heartbeat" }), HEARTBEAT_MS);
    }, Math.random() * HEARTBEAT_MS);
  };
  await Promise.all(
    Array.from({ length: CONNECT_CONCURRENCY }, async () => {
      while (next < count) await connectOne(next++);
    }),
  );
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  for (const link of links) link.close();
  Deno.exit(0);
}

/**
 * The platform floor: a bare Deno listener that only reads (1 KiB buffer per connection), with
 * the same number of connections each sending one 40-byte message a second. No framing, crypto
 * or logic: what any Deno server pays for the same wakeups.
 */
async function rawServer(): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(`port ${listener.addr.port}`);
  for await (const conn of listener) {
    (async () => {
      const buffer = new Uint8Array(1024);
      while ((await conn.read(buffer)) !== null) { /* discard */ }
    })().catch(() => {});
  }
}

async function rawSimulate(count: number, port: number): Promise<void> {
  const message = new Uint8Array(40);
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    setTimeout(() => {
      conn.write(message).catch(() => {});
      setInterval(() => conn.write(message).catch(() => {}), HEARTBEAT_MS);
    }, Math.random() * HEARTBEAT_MS);
  }
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  Deno.exit(0);
}

/** Spawns this file with `args`; resolves once its stdout contains `marker` (returns stdout). */
async function spawnSelf(
  args: string[],
  marker: RegExp,
): Promise<{ child: Deno.ChildProcess; output: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!marker.test(output)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`\`${args.join(" ")}\` ended early`);
    output += value;
  }
  reader.releaseLock();
  return { child, output };
}

async function measureRawFloor(
  count: number,
  windowMs: number,
): Promise<{ cpuPercent: number; rss: number }> {
  const server = await spawnSelf(["--raw-server"], /port \d+/);
  const port = Number(/port (\d+)/.exec(server.output)![1]);
  const simulator = await spawnSelf(
    ["--raw-simulate", String(count), "--port", String(port)],
    /ready/,
  );
  const loaded = await measure(server.child.pid, windowMs);
  await simulator.child.stdin.close();
  await simulator.child.status;
  server.child.kill("SIGKILL");
  await server.child.status;
  return loaded;
}

function configuration(index: number): WorkerConfiguration {
  return testWorkerConfiguration(4, {
    hostname: `sim${index}`,
    listenAddress: `sim${index}:1`,
    heartbeatIntervalMs: HEARTBEAT_MS,
    pid: 0,
  });
}

/** CPU seconds (user + system) the process used so far. */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
  return kb / 1024;
}

async function measure(
  pid: number,
  windowMs: number,
): Promise<{ cpuPercent: number; rss: number }> {
  const cpuStart = cpuSeconds(pid);
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const elapsed = (performance.now() - start) / 1000;
  return { cpuPercent: ((cpuSeconds(pid) - cpuStart) / elapsed) * 100, rss: rssMb(pid) };
}

/** The server process behind a live server (the child is `deno run … server start`). */
function serverPid(serverDir: string): number {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes("server\0start") && cmdline.includes(serverDir)) {
        return Number(entry.name);
      }
    } catch {
      // Gone.
    }
  }
  throw new Error("server process not found");
}

export async function benchWorkerCapacity(
  options: { counts?: number[]; windowMs?: number } = {},
): Promise<BenchRow[]> {
  const counts = options.counts ?? [1_000, 10_000];
  const windowMs = options.windowMs ?? 10_000;
  const rows: BenchRow[] = [];
  for (const count of counts) {
    await using server = await startLiveServer();
    const pid = serverPid(server.serverDir);
    const idle = await measure(pid, Math.min(windowMs, 3_000));
    const simulator = await spawnSelf(
      ["--simulate", String(count), "--server-dir", server.serverDir],
      /ready/,
    );
    const loaded = await measure(pid, windowMs);
    // Heartbeats really arrived: a worker silent for 2 periods would be HEARTBEAT LOST by now.
    const client = await HqClient.connect({ serverDir: server.serverDir });
    const running = (await client.workerList("running")).length;
    client.close();
    await simulator.child.stdin.close();
    await simulator.child.status;
    const floor = await measureRawFloor(count, windowMs);
    rows.push({
      name: `worker_capacity/${count}-workers-cpu`,
      figure: loaded.cpuPercent,
      unit: "% of a core",
      reference: floor.cpuPercent,
      referenceLabel: "bare Deno reads",
      ratio: loaded.cpuPercent / floor.cpuPercent,
      target: count === 10_000 ? "< 20%" : "",
    }, {
      name: `worker_capacity/${count}-workers-still-running`,
      figure: running,
      unit: "workers",
      reference: count,
      referenceLabel: "registered",
      ratio: running / count,
      target: "1.00x",
    }, {
      name: `worker_capacity/${count}-workers-rss`,
      figure: loaded.rss,
      unit: "MB",
      reference: floor.rss,
      referenceLabel: "bare Deno reads",
      ratio: loaded.rss / floor.rss,
      target: count === 10_000 ? "< 300 MB" : "",
    }, {
      name: `worker_capacity/idle-server-rss`,
      figure: idle.rss,
      unit: "MB",
      reference: null,
      referenceLabel: "",
      ratio: null,
      target: "",
    });
  }
  return rows;
}

if (import.meta.main) {
  const args = Deno.args;
  const flag = (name: string) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : undefined;
  };
  const simulateCount = flag("--simulate");
  if (args.includes("--raw-server")) {
    await rawServer();
  } else if (flag("--raw-simulate") !== undefined) {
    await rawSimulate(Number(flag("--raw-simulate")), Number(flag("--port")));
  } else if (simulateCount !== undefined) {
    await simulate(Number(simulateCount), flag("--server-dir")!);
  } else {
    const counts = flag("--counts")?.split(",").map(Number);
    const windowMs = flag("--window-ms") ? Number(flag("--window-ms")) : undefined;
    console.log(formatTable(await benchWorkerCapacity({ counts, windowMs })));
  }
}
