import { HqClient } from "../client/mod.ts";
import type { CliContext } from "./context.ts";

/** Connects to the server of `--server-dir`, runs `action`, and always closes the connection. */
export async function withClient<T>(
  context: CliContext,
  action: (client: HqClient) => Promise<T>,
): Promise<T> {
  const client = await HqClient.connect({ serverDir: context.globals.serverDir });
  try {
    return await action(client);
  } finally {
    client.close();
  }
}
