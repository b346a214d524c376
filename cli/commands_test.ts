import assert from "node:assert/strict";
import { UsageError } from "../common/errors.ts";
import { type Command, parseCommandLine, type ParseOutcome } from "./args.ts";
import { rootCommand } from "./commands.ts";
import type { CliContext } from "./context.ts";
import { renderHelp } from "./help.ts";
import { parseDurationArg } from "./value_parsers.ts";

const WALLTIME_HINT = "Could not parse PBS walltime. Use either `HH:MM:SS` or humantime format " +
  "(2hours): ";

function parse(argv: string[], env: Record<string, string> = {}): ParseOutcome<CliContext> {
  return parseCommandLine(argv, rootCommand, { env: (name) => env[name] });
}

function run(argv: string[], env: Record<string, string> = {}) {
  const outcome = parse(argv, env);
  assert.equal(outcome.type, "run");
  return outcome as Extract<ParseOutcome<CliContext>, { type: "run" }>;
}

function assertUsageError(argv: string[], message: string, env: Record<string, string> = {}) {
  assert.throws(() => parse(argv, env), (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected UsageError, got ${error}`);
    assert.equal(error.message, message);
    return true;
  });
}

function* walk(path: Command<CliContext>[]): Generator<Command<CliContext>[]> {
  yield path;
  for (const sub of path[path.length - 1].subcommands) yield* walk([...path, sub]);
}

Deno.test("rootCommand gives every command an about text and a runnable leaf", () => {
  for (const path of walk([rootCommand])) {
    const command = path[path.length - 1];
    const name = path.map((c) => c.name).join(" ");
    assert.ok(command.about.trim().length > 0, `${name} has no about text`);
    if (command.subcommands.length === 0) assert.ok(command.run, `${name} cannot run`);
  }
});

Deno.test("rootCommand gives every argument a help text", () => {
  for (const path of walk([rootCommand])) {
    for (const [key, arg] of Object.entries(path[path.length - 1].args)) {
      assert.ok(arg.help.trim().length > 0, `${key} has no help text`);
    }
  }
});

Deno.test("rootCommand renders help for every command in both lengths", () => {
  for (const path of walk([rootCommand])) {
    assert.ok(renderHelp(path, false).startsWith(path[path.length - 1].about));
    assert.match(renderHelp(path, true), /\nGLOBAL OPTIONS:\n/);
    assert.doesNotMatch(renderHelp(path, false), /GLOBAL OPTIONS/);
  }
});

Deno.test("rootCommand has the server subcommands of the spec", () => {
  const server = rootCommand.subcommands.find((command) => command.name === "server")!;
  assert.deepEqual(
    server.subcommands.map((command) => command.name),
    ["start", "stop", "info", "wait", "generate-access", "debug-dump"],
  );
});

Deno.test("rootCommand resolves the global options with their defaults", () => {
  assert.deepEqual(run(["server", "info"]).globals, {
    serverDir: undefined,
    outputMode: "cli",
    colors: "auto",
    debug: false,
  });
});

Deno.test("rootCommand reads HQ_SERVER_DIR, HQ_OUTPUT_MODE and HQ_DEBUG", () => {
  const env = { HQ_SERVER_DIR: "/srv/hq", HQ_OUTPUT_MODE: "json", HQ_DEBUG: "true" };
  assert.deepEqual(run(["server", "info"], env).globals, {
    serverDir: "/srv/hq",
    outputMode: "json",
    colors: "auto",
    debug: true,
  });
  assert.equal(run(["server", "info", "--output-mode", "quiet"], env).globals.outputMode, "quiet");
});

Deno.test("rootCommand rejects an unknown output mode with the possible values", () => {
  assertUsageError(
    ["server", "info", "--output-mode", "xml"],
    "invalid value 'xml' for '--output-mode <OUTPUT_MODE>' [possible values: cli, json, quiet]",
  );
  assertUsageError(
    ["--colors=sometimes", "server", "info"],
    "invalid value 'sometimes' for '--colors <COLORS>' [possible values: auto, always, never]",
  );
});

Deno.test("rootCommand has no help subcommand", () => {
  assertUsageError(["help"], "unrecognized subcommand 'help'");
});

Deno.test("rootCommand asks for a subcommand of `hq server` with exit code 2", () => {
  const outcome = parse(["server"]);
  assert.equal(outcome.type, "help");
  assert.equal((outcome as Extract<typeof outcome, { type: "help" }>).exitCode, 2);
  assert.equal((outcome as Extract<typeof outcome, { type: "help" }>).toStderr, true);
});

Deno.test("server start rejects a port above 65535", () => {
  assertUsageError(
    ["server", "start", "--client-port", "70000"],
    "invalid value '70000' for '--client-port <CLIENT_PORT>': 70000 is not in 0..=65535",
  );
  assertUsageError(
    ["server", "start", "--worker-port=abc"],
    "invalid value 'abc' for '--worker-port <WORKER_PORT>': invalid digit found in string",
  );
});

Deno.test("server start parses ports and durations, with the spec's defaults", () => {
  const outcome = run([
    "server",
    "start",
    "--client-port",
    "0",
    "--worker-port=65535",
    "--idle-timeout",
    "1:30",
  ]);
  assert.equal(outcome.values.clientPort, 0);
  assert.equal(outcome.values.workerPort, 65535);
  assert.equal(outcome.values.idleTimeout, 90_000);
  assert.equal(outcome.values.journalFlushPeriod, 30_000);
  assert.equal(outcome.values.schedulerTimeLimit, undefined);
  assert.equal(outcome.values.disableClientAuthenticationAndEncryption, false);
});

Deno.test("server start reports a bad duration with the PBS walltime hint", () => {
  assertUsageError(
    ["server", "start", "--idle-timeout", "soon"],
    `invalid value 'soon' for '--idle-timeout <IDLE_TIMEOUT>': ${WALLTIME_HINT}` +
      'expected a number at position 0, found "s"',
  );
});

Deno.test("server wait defaults its timeout to five minutes", () => {
  assert.equal(run(["server", "wait"]).values.timeout, 300_000);
  assert.equal(run(["server", "wait", "--timeout", "2h30m"]).values.timeout, 9_000_000);
});

Deno.test("server generate-access requires the access file and both ports", () => {
  assertUsageError(
    ["server", "generate-access"],
    "the following required arguments were not provided: <ACCESS_FILE>, " +
      "--client-port <CLIENT_PORT>, --worker-port <WORKER_PORT>",
  );
  const outcome = run([
    "server",
    "generate-access",
    "a.json",
    "--client-port=1",
    "--worker-port=2",
    "--client-file",
    "c.json",
  ]);
  assert.equal(outcome.values.accessFile, "a.json");
  assert.equal(outcome.values.clientFile, "c.json");
  assert.equal(outcome.values.workerFile, undefined);
});

Deno.test("parseDurationArg accepts both duration forms in milliseconds", () => {
  assert.equal(parseDurationArg("30"), 30_000);
  assert.equal(parseDurationArg("01:00:00"), 3_600_000);
  assert.equal(parseDurationArg("1.5m"), 90_000);
  assert.equal(parseDurationArg("2 hours 5 minutes 10 seconds"), 7_510_000);
});

Deno.test("parseDurationArg prefixes the parse error with the PBS walltime hint", () => {
  for (const text of ["", "1x", "-5s", "1."]) {
    assert.throws(() => parseDurationArg(text), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(error.message.startsWith(WALLTIME_HINT), error.message);
      assert.ok(error.message.length > WALLTIME_HINT.length, "a detail follows the hint");
      return true;
    });
  }
});
