import assert from "node:assert/strict";
import { UsageError } from "../common/errors.ts";
import {
  type Command,
  defineCommand,
  flag,
  option,
  optionList,
  parseCommandLine,
  type ParseOutcome,
  positional,
  positionalList,
} from "./args.ts";

// A small tree shaped like hq's: global options on the root, nested subcommands, one command with
// a trailing variadic positional (like `submit`).

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new Error(`${raw} is not in 0..=65535`);
  return port;
}

const noop = () => Promise.resolve();

const startCommand = defineCommand({
  name: "start",
  about: "Start the server",
  args: {
    host: option({ help: "Host" }),
    clientPort: option({ help: "Client port", parse: parsePort }),
    journal: option({ help: "Journal", short: "j", valueName: "JOURNAL" }),
    verbose: flag({ help: "Verbose", short: "v" }),
    quiet: flag({ help: "Quiet", short: "q" }),
    idle: option({ help: "Idle", aliases: ["old-idle"] }),
  },
  conflicts: [["verbose", "quiet"]],
  run: noop,
});

const generateCommand = defineCommand({
  name: "generate-access",
  about: "Generate an access file",
  args: {
    accessFile: positional({ help: "Output", required: true }),
    clientPort: option({ help: "Client port", parse: parsePort, required: true }),
    workerPort: option({ help: "Worker port", parse: parsePort, required: true }),
  },
  run: noop,
});

const serverCommand = defineCommand({
  name: "server",
  about: "Commands for the server",
  subcommands: [startCommand, generateCommand],
});

const submitCommand = defineCommand({
  name: "submit",
  about: "Submit a job",
  args: {
    cpus: option({ help: "CPUs", parse: Number, default: 1 }),
    name: option({ help: "Name", short: "n" }),
    offset: option({ help: "Offset", parse: Number }),
    env: optionList({ help: "Environment variable" }),
    command: positionalList({ help: "Program and arguments", required: true, trailing: true }),
  },
  run: noop,
});

const catCommand = defineCommand({
  name: "cat",
  about: "Print files",
  aliases: ["concatenate"],
  args: {
    verbose: flag({ help: "Verbose", short: "v" }),
    first: positional({ help: "First file", required: true }),
    second: positional({ help: "Second file" }),
    rest: positionalList({ help: "More files" }),
  },
  run: noop,
});

const root = defineCommand({
  name: "hq",
  about: "Test root",
  args: {
    serverDir: option({ help: "Server dir", env: "HQ_SERVER_DIR", global: true }),
    outputMode: option({
      help: "Output mode",
      env: "HQ_OUTPUT_MODE",
      possibleValues: ["cli", "json", "quiet"],
      default: "cli",
      global: true,
    }),
    debug: flag({ help: "Debug", env: "HQ_DEBUG", global: true }),
  },
  subcommands: [serverCommand, submitCommand, catCommand],
});

type Outcome = ParseOutcome<unknown>;

function parse(argv: string[], env: Record<string, string> = {}): Outcome {
  return parseCommandLine(argv, root as Command<unknown>, { env: (name) => env[name] });
}

function run(argv: string[], env: Record<string, string> = {}) {
  const outcome = parse(argv, env);
  assert.equal(outcome.type, "run", `expected a run outcome for ${argv.join(" ")}`);
  return outcome as Extract<Outcome, { type: "run" }>;
}

function assertUsageError(argv: string[], message: string, env: Record<string, string> = {}) {
  assert.throws(
    () => parse(argv, env),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `expected UsageError, got ${error}`);
      assert.equal(error.message, message);
      assert.equal(error.exitCode, 2);
      return true;
    },
  );
}

const commandNames = (outcome: Outcome) =>
  "path" in outcome ? outcome.path.map((command) => command.name) : [];

// --- subcommands and global options ---

Deno.test("parseCommandLine follows the subcommand path and returns its values", () => {
  const outcome = run(["server", "start", "--host", "login1"]);
  assert.deepEqual(commandNames(outcome), ["hq", "server", "start"]);
  assert.equal(outcome.values.host, "login1");
  assert.equal(outcome.values.clientPort, undefined);
  assert.equal(outcome.values.verbose, false);
});

Deno.test("parseCommandLine accepts global options before the subcommand", () => {
  const outcome = run([
    "--server-dir",
    "/a",
    "--output-mode",
    "json",
    "--debug",
    "server",
    "start",
  ]);
  assert.deepEqual(outcome.globals, { serverDir: "/a", outputMode: "json", debug: true });
});

Deno.test("parseCommandLine accepts global options after the subcommand", () => {
  const outcome = run(["server", "start", "--server-dir", "/a", "--debug", "--output-mode=quiet"]);
  assert.deepEqual(outcome.globals, { serverDir: "/a", outputMode: "quiet", debug: true });
});

Deno.test("parseCommandLine accepts global options between subcommand names", () => {
  const outcome = run(["server", "--server-dir=/a", "start"]);
  assert.equal(outcome.globals.serverDir, "/a");
  assert.deepEqual(commandNames(outcome), ["hq", "server", "start"]);
});

Deno.test("parseCommandLine keeps global options out of the command's own values", () => {
  const outcome = run(["server", "start", "--debug"]);
  assert.equal("debug" in outcome.values, false);
  assert.equal("host" in outcome.globals, false);
});

Deno.test("parseCommandLine fills global defaults when no global option is given", () => {
  const outcome = run(["server", "start"]);
  assert.deepEqual(outcome.globals, { serverDir: undefined, outputMode: "cli", debug: false });
});

Deno.test("parseCommandLine accepts a command alias", () => {
  const outcome = run(["concatenate", "a"]);
  assert.deepEqual(commandNames(outcome), ["hq", "cat"]);
});

Deno.test("parseCommandLine rejects an unknown subcommand", () => {
  assertUsageError(["foo"], "unrecognized subcommand 'foo'");
  assertUsageError(["server", "begin"], "unrecognized subcommand 'begin'");
});

Deno.test("parseCommandLine returns a help outcome on stderr with exit code 2 when a subcommand is missing", () => {
  const outcome = parse(["server"]);
  assert.equal(outcome.type, "help");
  assert.deepEqual(commandNames(outcome), ["hq", "server"]);
  assert.deepEqual({ ...outcome, path: undefined }, {
    type: "help",
    path: undefined,
    long: false,
    toStderr: true,
    exitCode: 2,
  });
  const atRoot = parse(["--debug"]);
  assert.equal(atRoot.type, "help");
  assert.equal((atRoot as Extract<Outcome, { type: "help" }>).exitCode, 2);
});

// --- option syntax ---

Deno.test("parseCommandLine accepts `--opt value` and `--opt=value`", () => {
  assert.equal(run(["server", "start", "--host", "a"]).values.host, "a");
  assert.equal(run(["server", "start", "--host=a"]).values.host, "a");
  assert.equal(run(["server", "start", "--host=a=b"]).values.host, "a=b");
  assert.equal(run(["server", "start", "--host="]).values.host, "");
});

Deno.test("parseCommandLine derives long names from keys in kebab case", () => {
  assert.equal(run(["server", "start", "--client-port", "80"]).values.clientPort, 80);
});

Deno.test("parseCommandLine accepts a hidden alias like the long name", () => {
  assert.equal(run(["server", "start", "--old-idle", "5s"]).values.idle, "5s");
});

Deno.test("parseCommandLine accepts short options, with the value attached or separate", () => {
  assert.equal(run(["server", "start", "-j", "x.bin"]).values.journal, "x.bin");
  assert.equal(run(["server", "start", "-jx.bin"]).values.journal, "x.bin");
  assert.equal(run(["server", "start", "-j=x.bin"]).values.journal, "x.bin");
});

Deno.test("parseCommandLine accepts clustered short flags ending in an option", () => {
  const outcome = run(["server", "start", "-vj", "x.bin"]);
  assert.equal(outcome.values.verbose, true);
  assert.equal(outcome.values.journal, "x.bin");
});

Deno.test("parseCommandLine rejects an unknown long or short option", () => {
  assertUsageError(["server", "start", "--foo"], "unexpected argument '--foo' found");
  assertUsageError(["server", "start", "--foo=1"], "unexpected argument '--foo' found");
  assertUsageError(["server", "start", "-z"], "unexpected argument '-z' found");
});

Deno.test("parseCommandLine does not accept another command's options", () => {
  assertUsageError(["submit", "--host", "a", "prog"], "unexpected argument '--host' found");
});

Deno.test("parseCommandLine rejects a value given to a flag", () => {
  assertUsageError(
    ["server", "start", "--verbose=yes"],
    "unexpected value 'yes' for '--verbose' found; no more were expected",
  );
});

Deno.test("parseCommandLine rejects an option without its value", () => {
  assertUsageError(
    ["server", "start", "--journal"],
    "a value is required for '--journal <JOURNAL>' but none was supplied",
  );
  assertUsageError(
    ["server", "start", "--journal", "--debug"],
    "a value is required for '--journal <JOURNAL>' but none was supplied",
  );
  assertUsageError(
    ["server", "start", "-j"],
    "a value is required for '--journal <JOURNAL>' but none was supplied",
  );
});

Deno.test("parseCommandLine takes a negative number as an option value", () => {
  assert.equal(run(["submit", "--offset", "-5", "prog"]).values.offset, -5);
  assert.equal(run(["submit", "--offset", "-2.5", "prog"]).values.offset, -2.5);
});

Deno.test("parseCommandLine takes a negative number as a positional value", () => {
  assert.deepEqual(run(["cat", "-3"]).values.first, "-3");
});

Deno.test("parseCommandLine rejects an option given twice", () => {
  assertUsageError(
    ["server", "start", "--host", "a", "--host=b"],
    "the argument '--host <HOST>' cannot be used multiple times",
  );
  assertUsageError(
    ["server", "start", "-v", "--verbose"],
    "the argument '--verbose' cannot be used multiple times",
  );
  assertUsageError(
    ["--debug", "server", "start", "--debug"],
    "the argument '--debug' cannot be used multiple times",
  );
});

Deno.test("parseCommandLine collects a repeated list option in order", () => {
  const outcome = run(["submit", "--env", "A=1", "--env=B=2", "--env", "C=3", "prog"]);
  assert.deepEqual(outcome.values.env, ["A=1", "B=2", "C=3"]);
  assert.deepEqual(run(["submit", "prog"]).values.env, []);
});

// --- values: possible values, parsers, required, conflicts ---

Deno.test("parseCommandLine lists the possible values when a value is not one of them", () => {
  assertUsageError(
    ["--output-mode", "xml", "server", "start"],
    "invalid value 'xml' for '--output-mode <OUTPUT_MODE>' [possible values: cli, json, quiet]",
  );
});

Deno.test("parseCommandLine reports a value parser's error after a colon", () => {
  assertUsageError(
    ["server", "start", "--client-port", "70000"],
    "invalid value '70000' for '--client-port <CLIENT_PORT>': 70000 is not in 0..=65535",
  );
});

Deno.test("parseCommandLine lists all missing required arguments in one message", () => {
  assertUsageError(
    ["server", "generate-access"],
    "the following required arguments were not provided: <ACCESS_FILE>, " +
      "--client-port <CLIENT_PORT>, --worker-port <WORKER_PORT>",
  );
  assertUsageError(
    ["server", "generate-access", "out.json", "--worker-port", "2"],
    "the following required arguments were not provided: --client-port <CLIENT_PORT>",
  );
});

Deno.test("parseCommandLine accepts required arguments in any order", () => {
  const outcome = run([
    "server",
    "generate-access",
    "--worker-port=2",
    "out.json",
    "--client-port",
    "1",
  ]);
  assert.deepEqual(outcome.values, { accessFile: "out.json", clientPort: 1, workerPort: 2 });
});

Deno.test("parseCommandLine rejects two conflicting arguments", () => {
  assertUsageError(
    ["server", "start", "--verbose", "-q"],
    "the argument '--verbose' cannot be used with '--quiet'",
  );
  assert.equal(run(["server", "start", "-q"]).values.quiet, true);
});

// --- environment ---

Deno.test("parseCommandLine falls back to the environment when an option is absent", () => {
  const outcome = run(["server", "start"], {
    HQ_SERVER_DIR: "/env",
    HQ_OUTPUT_MODE: "json",
    HQ_DEBUG: "true",
  });
  assert.deepEqual(outcome.globals, { serverDir: "/env", outputMode: "json", debug: true });
});

Deno.test("parseCommandLine prefers an explicit option over the environment", () => {
  const outcome = run(["--output-mode", "quiet", "server", "start", "--server-dir", "/flag"], {
    HQ_SERVER_DIR: "/env",
    HQ_OUTPUT_MODE: "json",
  });
  assert.equal(outcome.globals.serverDir, "/flag");
  assert.equal(outcome.globals.outputMode, "quiet");
});

Deno.test("parseCommandLine ignores an empty environment variable", () => {
  const outcome = run(["server", "start"], {
    HQ_SERVER_DIR: "",
    HQ_OUTPUT_MODE: "",
    HQ_DEBUG: "",
  });
  assert.deepEqual(outcome.globals, { serverDir: undefined, outputMode: "cli", debug: false });
});

Deno.test("parseCommandLine reads a flag's environment value `false` as off", () => {
  assert.equal(run(["server", "start"], { HQ_DEBUG: "false" }).globals.debug, false);
});

Deno.test("parseCommandLine rejects a flag's environment value other than true or false", () => {
  assertUsageError(
    ["server", "start"],
    "invalid value '1' for '--debug': expected `true` or `false`",
    { HQ_DEBUG: "1" },
  );
  assertUsageError(
    ["server", "start"],
    "invalid value 'yes' for '--debug': expected `true` or `false`",
    { HQ_DEBUG: "yes" },
  );
});

Deno.test("parseCommandLine checks possible values of an environment value too", () => {
  assertUsageError(
    ["server", "start"],
    "invalid value 'xml' for '--output-mode <OUTPUT_MODE>' [possible values: cli, json, quiet]",
    { HQ_OUTPUT_MODE: "xml" },
  );
});

// --- positionals ---

Deno.test("parseCommandLine fills positionals in order, optional ones only when given", () => {
  assert.deepEqual(run(["cat", "a"]).values, {
    verbose: false,
    first: "a",
    second: undefined,
    rest: [],
  });
  assert.deepEqual(run(["cat", "a", "b", "c", "d"]).values, {
    verbose: false,
    first: "a",
    second: "b",
    rest: ["c", "d"],
  });
});

Deno.test("parseCommandLine accepts options between the values of a variadic positional", () => {
  const outcome = run(["cat", "a", "b", "c", "--verbose", "d"]);
  assert.equal(outcome.values.verbose, true);
  assert.deepEqual(outcome.values.rest, ["c", "d"]);
});

Deno.test("parseCommandLine rejects a positional nobody takes", () => {
  assertUsageError(["server", "start", "extra"], "unexpected argument 'extra' found");
});

Deno.test("parseCommandLine reports a missing required positional", () => {
  assertUsageError(["cat"], "the following required arguments were not provided: <FIRST>");
  assertUsageError(
    ["submit", "--cpus", "2"],
    "the following required arguments were not provided: <COMMAND>...",
  );
});

Deno.test("parseCommandLine treats everything after the first trailing value as values", () => {
  const outcome = run(["submit", "--cpus", "2", "./prog", "--arg", "x", "--cpus", "3", "-n"]);
  assert.equal(outcome.values.cpus, 2);
  assert.equal(outcome.values.name, undefined);
  assert.deepEqual(outcome.values.command, ["./prog", "--arg", "x", "--cpus", "3", "-n"]);
});

Deno.test("parseCommandLine keeps `--help` and `--` after the first trailing value as values", () => {
  const outcome = run(["submit", "prog", "--help", "--", "--version"]);
  assert.deepEqual(outcome.values.command, ["prog", "--help", "--", "--version"]);
});

Deno.test("parseCommandLine ends options at `--`", () => {
  const outcome = run(["cat", "--", "--verbose", "-v", "-h"]);
  assert.equal(outcome.values.verbose, false);
  assert.equal(outcome.values.first, "--verbose");
  assert.equal(outcome.values.second, "-v");
  assert.deepEqual(outcome.values.rest, ["-h"]);
  assert.deepEqual(run(["submit", "--", "--prog", "x"]).values.command, ["--prog", "x"]);
});

Deno.test("parseCommandLine takes a lone dash as a positional value", () => {
  assert.equal(run(["cat", "-"]).values.first, "-");
});

// --- help and version ---

Deno.test("parseCommandLine returns short help for -h and long help for --help", () => {
  const short = parse(["server", "start", "-h"]);
  assert.equal(short.type, "help");
  assert.deepEqual(commandNames(short), ["hq", "server", "start"]);
  assert.deepEqual({ ...short, path: undefined }, {
    type: "help",
    path: undefined,
    long: false,
    toStderr: false,
    exitCode: 0,
  });
  const long = parse(["server", "start", "--help"]);
  assert.equal(long.type, "help");
  assert.equal((long as Extract<Outcome, { type: "help" }>).long, true);
  assert.equal((long as Extract<Outcome, { type: "help" }>).exitCode, 0);
});

Deno.test("parseCommandLine returns help for the command reached so far", () => {
  assert.deepEqual(commandNames(parse(["-h"])), ["hq"]);
  assert.deepEqual(commandNames(parse(["server", "--help"])), ["hq", "server"]);
});

Deno.test("parseCommandLine returns help before checking required arguments", () => {
  assert.equal(parse(["server", "generate-access", "--help"]).type, "help");
  assert.equal(parse(["submit", "-h"]).type, "help");
});

Deno.test("parseCommandLine returns the version outcome for --version and -V", () => {
  assert.deepEqual(parse(["--version"]), { type: "version" });
  assert.deepEqual(parse(["-V"]), { type: "version" });
});

Deno.test("parseCommandLine accepts -V only on the root command", () => {
  assertUsageError(["server", "start", "-V"], "unexpected argument '-V' found");
});

// --- allowHyphenValues (like `worker deploy-ssh <HOSTFILE> [WORKER_START_ARGS]...`) ---

const deployCommand = defineCommand({
  name: "deploy",
  about: "Deploy",
  args: {
    showOutput: flag({ help: "Show output" }),
    hostfile: positional({ help: "Hosts", required: true }),
    forwarded: positionalList({ help: "Forwarded", trailing: true, allowHyphenValues: true }),
  },
  run: noop,
});
const deployRoot = defineCommand({
  name: "hq",
  about: "Test root",
  args: { serverDir: option({ help: "Server dir", global: true }) },
  subcommands: [deployCommand],
});

function parseDeploy(argv: string[]) {
  const outcome = parseCommandLine(argv, deployRoot as Command<unknown>, { env: () => undefined });
  assert.equal(outcome.type, "run");
  return outcome as Extract<Outcome, { type: "run" }>;
}

Deno.test("parseCommandLine gives every token after the positionals before it to an allowHyphenValues list", () => {
  const outcome = parseDeploy(
    ["--server-dir", "a", "deploy", "--show-output", "hosts", "--cpus=2", "-h", "--show-output"],
  );
  assert.equal(outcome.values.showOutput, true);
  assert.equal(outcome.values.hostfile, "hosts");
  assert.deepEqual(outcome.values.forwarded, ["--cpus=2", "-h", "--show-output"]);
  assert.equal(outcome.globals.serverDir, "a");
  assert.deepEqual(parseDeploy(["deploy", "hosts", "--server-dir", "b"]).values.forwarded, [
    "--server-dir",
    "b",
  ]);
});

Deno.test("parseCommandLine keeps options before the positionals of an allowHyphenValues command", () => {
  assert.deepEqual(parseDeploy(["deploy", "hosts", "--", "--x"]).values.forwarded, ["--x"]);
  assert.deepEqual(parseDeploy(["deploy", "hosts"]).values.forwarded, []);
  const parseWith = (argv: string[]) =>
    parseCommandLine(argv, deployRoot as Command<unknown>, { env: () => undefined });
  assert.equal(parseWith(["deploy", "-h"]).type, "help");
  assert.throws(() => parseWith(["deploy", "--cpus", "2", "hosts"]), UsageError);
});
