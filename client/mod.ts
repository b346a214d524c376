/** Talking to a running server as a client (what every `hq` client command and the API use). */
export { expectResponse, HqClient } from "./hq_client.ts";
export type { ConnectOptions } from "./hq_client.ts";
export { buildJobSubmits, JobDefinitionError } from "./job_definition.ts";
export type {
  ArrayDefinition,
  JobDefinition,
  OutputDefinition,
  RequestDefinition,
  TaskDefinition,
  TaskOptions,
} from "./job_definition.ts";
