/**
 * The worker's end of `hq task notify` (jobs spec §8.4): a Unix socket in the worker's work
 * directory. Each task gets `HQ_ACCESS_KEY=<socket path>:<token>`, the token naming its job, task
 * and instance plus a secret of that instance alone, so a task can only speak for itself (not for
 * another task of the worker) and only while its instance runs. A caller writes `<token>\n<message>`, closes its write side and reads one line
 * back: `ok`, or `error <text>`.
 */
import { describeError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { joinPath } from "../common/paths.ts";
import { NOTIFY_MESSAGE_LIMIT, type TaskRefMessage } from "../common/protocol.ts";

const log = logger("worker::notify");

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const TOKEN_LIMIT = 128;

/**
 * Says whether the task named by a token runs now with that secret (see `sameSecret`), and passes
 * its message on if so.
 */
export type NotifyHandler = (task: TaskRefMessage, secret: string, message: Uint8Array) => boolean;

const SECRET_BYTES = 16;
/** Random bytes drawn for 256 secrets at a time: one getRandomValues call was ~10 µs a task. */
const secretPool = new Uint8Array(SECRET_BYTES * 256);
let secretPoolAt = secretPool.length;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** A fresh secret for one task instance, carried by its `HQ_ACCESS_KEY`. */
export function newTaskSecret(): string {
  if (secretPoolAt === secretPool.length) {
    crypto.getRandomValues(secretPool);
    secretPoolAt = 0;
  }
  let secret = "";
  for (let i = 0; i < SECRET_BYTES; i++) secret += HEX[secretPool[secretPoolAt + i]];
  // Used bytes are wiped: the pool never holds a secret already handed out.
  secretPool.fill(0, secretPoolAt, secretPoolAt += SECRET_BYTES);
  return secret;
}

/** Compares a presented secret with a task's in time independent of where they differ. */
export function sameSecret(presented: string, expected: string): boolean {
  if (presented.length !== expected.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) {
    difference |= presented.charCodeAt(i) ^ expected.charCodeAt(i);
  }
  return difference === 0;
}

export class NotifyListener {
  private constructor(
    readonly socketPath: string,
    private readonly listener: Deno.Listener,
    private readonly cleanupDir: string | null,
    private readonly handler: NotifyHandler,
  ) {
    this.#serve();
  }

  /** Listens in `workDir` (or a short temporary directory when that path is too long). */
  static start(workDir: string, handler: NotifyHandler): NotifyListener | null {
    let path = joinPath(workDir, "hq-notify.sock");
    let cleanupDir: string | null = null;
    try {
      if (new TextEncoder().encode(path).length > MAX_SOCKET_PATH) {
        cleanupDir = Deno.makeTempDirSync({ prefix: "hq-notify-" });
        path = joinPath(cleanupDir, "sock");
      }
      try {
        Deno.removeSync(path);
      } catch { /* no stale socket */ }
      const listener = Deno.listen({ transport: "unix", path });
      return new NotifyListener(path, listener, cleanupDir, handler);
    } catch (error) {
      log.warn(`Cannot listen for task notifications at ${path}: ${describeError(error)}`);
      return null;
    }
  }

  /** The `HQ_ACCESS_KEY` of one task instance, with its secret from `newTaskSecret`. */
  accessKey(task: TaskRefMessage, secret: string): string {
    return `${this.socketPath}:${task.jobId}.${task.taskId}.${task.instanceId}.${secret}`;
  }

  close(): void {
    try {
      this.listener.close();
    } catch { /* already closed */ }
    try {
      if (this.cleanupDir) Deno.removeSync(this.cleanupDir, { recursive: true });
      else Deno.removeSync(this.socketPath);
    } catch { /* gone already */ }
  }

  async #serve(): Promise<void> {
    try {
      for await (const connection of this.listener) {
        this.#answer(connection).catch((error) =>
          log.debug(`A notify call failed: ${describeError(error)}`)
        ).finally(() => {
          try {
            connection.close();
          } catch { /* closed */ }
        });
      }
    } catch (error) {
      log.debug(`The notify socket closed: ${describeError(error)}`);
    }
  }

  async #answer(connection: Deno.Conn): Promise<void> {
    const limit = TOKEN_LIMIT + 1 + NOTIFY_MESSAGE_LIMIT;
    const buffer = new Uint8Array(limit + 1);
    let length = 0;
    while (length < buffer.length) {
      const count = await connection.read(buffer.subarray(length));
      if (count === null) break;
      length += count;
    }
    const reply = (text: string) => connection.write(new TextEncoder().encode(`${text}\n`));
    const newline = buffer.subarray(0, length).indexOf(10);
    if (newline < 0 || length > limit) {
      await reply("error Malformed notification");
      return;
    }
    const token = tokenOf(new TextDecoder().decode(buffer.subarray(0, newline)));
    const message = buffer.slice(newline + 1, length);
    if (token === null || !this.handler(token.task, token.secret, message)) {
      await reply("error The task is not running on this worker");
      return;
    }
    await reply("ok");
  }
}

function tokenOf(token: string): { task: TaskRefMessage; secret: string } | null {
  const parts = token.split(".");
  if (parts.length !== 4) return null;
  const [jobId, taskId, instanceId] = parts.slice(0, 3).map(Number);
  if (![jobId, taskId, instanceId].every(Number.isSafeInteger)) return null;
  return { task: { jobId, taskId, instanceId }, secret: parts[3] };
}
