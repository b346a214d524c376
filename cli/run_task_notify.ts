/**
 * `hq task notify <MESSAGE>` (jobs spec §8.4): run inside a task, sends a message through the
 * worker's notify socket (`HQ_ACCESS_KEY`) to the clients waiting with `--on-notify`.
 */
import { HqError } from "../common/errors.ts";
import { NOTIFY_MESSAGE_LIMIT } from "../common/protocol.ts";

export async function runTaskNotify(message: string): Promise<void> {
  const accessKey = Deno.env.get("HQ_ACCESS_KEY");
  if (accessKey === undefined) {
    throw new HqError(
      "HQ_ACCESS_KEY variable not found. Are you running this command inside a task?",
    );
  }
  const bytes = new TextEncoder().encode(message);
  if (bytes.length > NOTIFY_MESSAGE_LIMIT) {
    throw new HqError(
      `Notify message limit exceeded, message len: ${bytes.length}, limit: ${NOTIFY_MESSAGE_LIMIT}`,
    );
  }
  const colon = accessKey.lastIndexOf(":");
  if (colon <= 0) throw new HqError("Invalid HQ_ACCESS_KEY");
  const path = accessKey.slice(0, colon);
  const token = accessKey.slice(colon + 1);
  let connection: Deno.UnixConn;
  try {
    connection = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    throw new HqError(`Cannot reach the worker at ${path}`, { cause: error });
  }
  try {
    const request = new Uint8Array(token.length + 1 + bytes.length);
    request.set(new TextEncoder().encode(`${token}\n`));
    request.set(bytes, token.length + 1);
    for (let written = 0; written < request.length;) {
      written += await connection.write(request.subarray(written));
    }
    await connection.closeWrite();
    const reply = (await new Response(connection.readable).text()).trim();
    if (reply !== "ok") {
      throw new HqError(reply.replace(/^error /, "") || "The worker closed the connection");
    }
  } finally {
    try {
      connection.close();
    } catch { /* closed with the readable */ }
  }
}
