import { loadClientEndpoint } from "../common/server_dir.ts";

/**
 * Whether a live server already owns the server directory `root` (spec §3.1 step 1): its access
 * file names a client endpoint that accepts a TCP connection. Any other outcome means no.
 */
export async function findLiveServer(root: string): Promise<boolean> {
  let endpoint;
  try {
    endpoint = loadClientEndpoint(root);
  } catch {
    return false;
  }
  try {
    const conn = await Deno.connect({
      hostname: endpoint.host,
      port: endpoint.port,
      signal: AbortSignal.timeout(2000),
    });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
