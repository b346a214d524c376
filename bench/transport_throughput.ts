/**
 * One-way throughput of ~100-byte messages over loopback through `connectSession` /
 * `acceptSession`, with AES-GCM against without. This process sends; it spawns itself with
 * `--receiver` for each run, so encoding and sealing on one side and opening and decoding on the
 * other run on the two cores in parallel, as between a server and a worker.
 *
 * The sender queues a chunk of messages with `send()` and awaits `flush()` before the next chunk,
 * so the queue stays bounded and each chunk leaves as one frame. The receiver counts messages and,
 * when it has them all, answers with one `done` message; the clock stops when that arrives.
 *
 *   deno run -A bench/transport_throughput.ts [--messages 1000000] [--rounds 3] [--chunk 4096]
 */
import { isRecord } from "../common/protocol.ts";
import { acceptSession, connectSession, type MessageConnection } from "../common/transport/mod.ts";
import { encodeMsgpack } from "../common/msgpack.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { median } from "./_stats.ts";

export interface TransportThroughputOptions {
  /** Messages per measured run. @default {1_000_000} */
  messages?: number;
  /** Measured runs per mode, interleaved. @default {3} */
  rounds?: number;
  /** Messages queued before each `flush()`. @default {4096} (MAX_BATCH_MESSAGES) */
  chunk?: number;
}

interface TaskFinished {
  type: "task-finished";
  taskId: number;
  workerId: number;
  detail: string;
}
type Done = { type: "done"; count: number };

const SECRET_ENV = "HQ_BENCH_SECRET";
const MESSAGE_BYTES = 100;
// Sized so that a message with a 4-byte task id (most of them) encodes to MESSAGE_BYTES.
const DETAIL = "x".repeat(
  MESSAGE_BYTES - encodeMsgpack({ type: "task-finished", taskId: 500_000, workerId: 7, detail: "" })
    .length -
    1,
);

function isTaskFinished(value: unknown): value is TaskFinished {
  return isRecord(value) && value.type === "task-finished" && typeof value.taskId === "number";
}

function isDone(value: unknown): value is Done {
  return isRecord(value) && value.type === "done" && typeof value.count === "number";
}

export async function benchTransportThroughput(
  options: TransportThroughputOptions = {},
): Promise<BenchRow[]> {
  const messages = options.messages ?? 1_000_000;
  const rounds = options.rounds ?? 3;
  const chunk = options.chunk ?? 4096;
  // Warm-up: both sides' JIT and the sender's buffers, not measured.
  const warmup = Math.min(messages, 100_000);
  await sendRun(true, warmup, chunk);
  await sendRun(false, warmup, chunk);

  const rates = { encrypted: [] as number[], plain: [] as number[] };
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const encryptedFirst = round % 2 === 0;
    for (const encrypted of encryptedFirst ? [true, false] : [false, true]) {
      rates[encrypted ? "encrypted" : "plain"].push(await sendRun(encrypted, messages, chunk));
    }
    ratios.push(rates.encrypted[round] / rates.plain[round]);
  }
  return [{
    name: `transport_throughput/${MESSAGE_BYTES}B-one-way`,
    figure: median(rates.encrypted),
    unit: "msg/s",
    reference: median(rates.plain),
    referenceLabel: "unencrypted",
    // Median of the per-round ratios: steadier than the ratio of medians under outside load.
    ratio: median(ratios),
    target: ">= 0.7x",
  }];
}

/** One run: spawns a receiver, sends `count` messages, returns messages per second. */
async function sendRun(encrypted: boolean, count: number, chunk: number): Promise<number> {
  const secretKey = encrypted ? crypto.getRandomValues(new Uint8Array(32)) : null;
  const args = ["run", "-A", "--quiet", new URL(import.meta.url).pathname, "--receiver"];
  args.push("--messages", String(count));
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: secretKey ? { [SECRET_ENV]: toHex(secretKey) } : {},
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let connection: MessageConnection<Done, TaskFinished> | null = null;
  let messagesPerSec = NaN;
  let status: Deno.CommandStatus;
  try {
    const port = Number(await firstLine(child.stdout));
    connection = await connectSession<Done, TaskFinished>({
      host: "127.0.0.1",
      port,
      role: "worker",
      secretKey,
      isMessage: isDone,
    });
    const start = performance.now();
    for (let sent = 0; sent < count;) {
      const end = Math.min(count, sent + chunk);
      for (; sent < end; sent++) {
        connection.send({ type: "task-finished", taskId: sent, workerId: 7, detail: DETAIL });
      }
      await connection.flush();
    }
    for await (const batch of connection.batches()) {
      if (batch.some((message) => message.count === count)) {
        messagesPerSec = count / ((performance.now() - start) / 1000);
        break;
      }
    }
  } finally {
    connection?.close();
    status = await child.status;
  }
  if (!status.success) throw new Error(`The receiver exited with code ${status.code}`);
  if (Number.isNaN(messagesPerSec)) {
    throw new Error("The receiver closed the connection before it had every message");
  }
  return messagesPerSec;
}

async function runReceiver(count: number): Promise<void> {
  const secretHex = Deno.env.get(SECRET_ENV);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(listener.addr.port);
  const conn = await listener.accept();
  listener.close();
  conn.setNoDelay(true);
  const connection = await acceptSession<TaskFinished, Done>(conn, {
    role: "worker",
    secretKey: secretHex ? fromHex(secretHex) : null,
    isMessage: isTaskFinished,
  });
  let received = 0;
  for await (const batch of connection.batches()) {
    received += batch.length;
    if (received >= count) {
      connection.send({ type: "done", count: received });
      await connection.flush();
      break;
    }
  }
  connection.close();
  if (received !== count) throw new Error(`Received ${received} of ${count} messages`);
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The receiver exited before it printed its port");
    text += value;
  }
  reader.cancel().catch(() => {});
  return text.slice(0, text.indexOf("\n")).trim();
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g)!, (pair) => parseInt(pair, 16));
}

function numberArg(args: string[], flag: string): number | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? Number(args[at + 1]) : undefined;
}

if (import.meta.main) {
  if (Deno.args.includes("--receiver")) {
    await runReceiver(numberArg(Deno.args, "--messages")!);
  } else {
    const rows = await benchTransportThroughput({
      messages: numberArg(Deno.args, "--messages"),
      rounds: numberArg(Deno.args, "--rounds"),
      chunk: numberArg(Deno.args, "--chunk"),
    });
    console.log(formatTable(rows));
  }
}
