/**
 * The public TypeScript API of hq: read access files, connect to a running server as a client and
 * ask it things. The command line (`main.ts`) is built on the same pieces.
 *
 * ```ts
 * import { HqClient } from "./mod.ts";
 * const client = await HqClient.connect({ serverDir: "/home/alice/.hq-server" });
 * console.log(await client.serverInfo());
 * client.close();
 * ```
 */
export { HqClient } from "./client/mod.ts";
export type {
  ArrayDefinition,
  ConnectOptions,
  JobDefinition,
  OutputDefinition,
  RequestDefinition,
  TaskDefinition,
  TaskOptions,
} from "./client/mod.ts";
export { JobDefinitionError } from "./client/mod.ts";
export { readAccessRecord } from "./common/access_record.ts";
export type { AccessRecord, Endpoint } from "./common/access_record.ts";
export { defaultServerDir } from "./common/server_dir.ts";
export type { ServerInfo } from "./common/protocol.ts";
export {
  AuthenticationError,
  ConnectionError,
  HqError,
  ProtocolMismatchError,
  ServerDirError,
} from "./common/errors.ts";
export { HQ_VERSION } from "./common/version.ts";
