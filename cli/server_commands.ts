/** `hq server …` (spec §3): arguments and help here, implementations loaded when run. */
import type { CliContext } from "./context.ts";
import { lazyImport } from "./lazy_import.ts";
import { type ArgValues, defineCommand, flag, option, positional } from "./args.ts";
import { parseDurationArg, parsePort } from "./value_parsers.ts";

export const serverStartArgs = {
  host: option({
    help: "Hostname/IP of the machine under which the server is visible to others",
    defaultText: "local hostname",
  }),
  clientPort: option({ help: "Port for client connections (random if not set)", parse: parsePort }),
  workerPort: option({ help: "Port for worker connections (random if not set)", parse: parsePort }),
  idleTimeout: option({
    help: "Default idle timeout for workers that do not set their own",
    parse: parseDurationArg,
  }),
  journal: option({
    help: "Path to the event journal; an existing journal is replayed first",
    valueName: "JOURNAL",
  }),
  journalFlushPeriod: option({
    help: "How often the journal is flushed to disk",
    parse: parseDurationArg,
    default: 30_000,
    defaultText: "30s",
  }),
  journalTruncateCorrupted: flag({
    help: "Start from a journal damaged in the middle, dropping everything from the damage on",
  }),
  accessFile: option({
    help: "Reuse hosts, ports, keys and server UID from a pre-generated access file",
  }),
  disableClientAuthenticationAndEncryption: flag({
    help: "Accept clients without authentication or encryption (dangerous)",
  }),
  disableWorkerAuthenticationAndEncryption: flag({
    help: "Accept workers without authentication or encryption (dangerous)",
  }),
  // HyperQueue's bound on its solver's time per round. Ours places tasks in one greedy pass with
  // no solver to bound, so the option is refused rather than silently ignored.
  schedulerTimeLimit: option({
    help: "Upper bound on the duration of one scheduling round (not supported)",
    parse: parseDurationArg,
    hidden: true,
  }),
};
export type ServerStartArgs = ArgValues<typeof serverStartArgs>;

export const serverWaitArgs = {
  timeout: option({
    help: "Give up after this long",
    parse: parseDurationArg,
    default: 300_000,
    defaultText: "5m",
  }),
};
export type ServerWaitArgs = ArgValues<typeof serverWaitArgs>;

export const generateAccessArgs = {
  accessFile: positional({ help: "Path of the full access record to write", required: true }),
  clientPort: option({
    help: "Client port written into the record",
    parse: parsePort,
    required: true,
  }),
  workerPort: option({
    help: "Worker port written into the record",
    parse: parsePort,
    required: true,
  }),
  host: option({ help: "Host for both clients and workers", defaultText: "local hostname" }),
  clientHost: option({ help: "Host for clients (overrides --host)" }),
  workerHost: option({ help: "Host for workers (overrides --host)" }),
  clientFile: option({ help: "Also write a client-only access record to this path" }),
  workerFile: option({ help: "Also write a worker-only access record to this path" }),
};
export type GenerateAccessArgs = ArgValues<typeof generateAccessArgs>;

export const debugDumpArgs = {
  path: positional({
    help: "Where the server writes the dump (on the server's host)",
    required: true,
  }),
};

export const serverCommand = defineCommand<Record<never, never>, CliContext>({
  name: "server",
  about: "Commands for the server",
  subcommands: [
    defineCommand({
      name: "start",
      about: "Start the server",
      args: serverStartArgs,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_server_start.ts")>("./run_server_start.ts"))
          .runServerStart(values, context),
    }),
    defineCommand({
      name: "stop",
      about: "Stop the server",
      run: async (_values, context: CliContext) =>
        (await lazyImport<typeof import("./run_server_client.ts")>("./run_server_client.ts"))
          .runServerStop(context),
    }),
    defineCommand({
      name: "info",
      about: "Show details of a running server",
      run: async (_values, context: CliContext) =>
        (await lazyImport<typeof import("./run_server_client.ts")>("./run_server_client.ts"))
          .runServerInfo(context),
    }),
    defineCommand({
      name: "wait",
      about: "Wait until the server is reachable",
      args: serverWaitArgs,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_server_client.ts")>("./run_server_client.ts"))
          .runServerWait(values, context),
    }),
    defineCommand({
      name: "generate-access",
      about: "Generate an access file without starting the server",
      args: generateAccessArgs,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_generate_access.ts")>("./run_generate_access.ts"))
          .runGenerateAccess(values, context),
    }),
    defineCommand({
      name: "debug-dump",
      about: "Ask the server to write a dump of its internal state (JSON)",
      args: debugDumpArgs,
      run: async (values, context: CliContext) =>
        (await lazyImport<typeof import("./run_server_client.ts")>("./run_server_client.ts"))
          .runDebugDump(values.path, context),
    }),
  ],
});
