/**
 * The server: accepts clients and workers on two authenticated endpoints, owns an instance in the
 * server directory, and answers requests. Scheduling will live in a pure core it only feeds.
 */
export { HqServer } from "./hq_server.ts";
export type { ServerOptions } from "./hq_server.ts";
export { openServerAccess, refuseLiveServer } from "./server_access.ts";
export type { ServerAccess, ServerAccessOptions } from "./server_access.ts";
