/** Talking to a running server as a client (what every `hq` client command and the API use). */
export { expectResponse, HqClient } from "./hq_client.ts";
export type { ConnectOptions } from "./hq_client.ts";
