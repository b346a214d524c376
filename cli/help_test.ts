import assert from "node:assert/strict";
import { type Command, defineCommand, flag, option, positional, positionalList } from "./args.ts";
import { renderHelp } from "./help.ts";

const noop = () => Promise.resolve();

const startCommand = defineCommand({
  name: "start",
  about: "Start the server",
  args: {
    host: option({ help: "Advertised host", defaultText: "local hostname" }),
    journal: option({ help: "Journal path", short: "j", valueName: "FILE" }),
    verbose: flag({ help: "Say more", short: "v" }),
    secret: option({ help: "Not for users", hidden: true }),
    idle: option({ help: "Idle timeout", aliases: ["old-idle-name"] }),
  },
  run: noop,
});

const stopCommand = defineCommand({ name: "stop", about: "Stop the server", run: noop });

const copyCommand = defineCommand({
  name: "copy",
  about: "Copy files",
  args: {
    source: positional({ help: "Source", required: true }),
    target: positional({ help: "Target" }),
    extra: positionalList({ help: "More" }),
  },
  run: noop,
});

const secretCommand = defineCommand({
  name: "internal",
  about: "Hidden command",
  hidden: true,
  run: noop,
});

const serverCommand = defineCommand({
  name: "server",
  about: "Commands for the server",
  subcommands: [startCommand, stopCommand, secretCommand],
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
      defaultText: "cli",
      global: true,
    }),
    debug: flag({ help: "Debug", global: true }),
    hiddenGlobal: option({ help: "Hidden global", global: true, hidden: true }),
  },
  subcommands: [serverCommand, copyCommand],
});

function help(names: string[], long: boolean): string {
  const path: Command<unknown>[] = [root as Command<unknown>];
  for (const name of names) {
    path.push(path[path.length - 1].subcommands.find((command) => command.name === name)!);
  }
  return renderHelp(path, long);
}

Deno.test("renderHelp with -h lists the command's own options but no global options", () => {
  assert.equal(
    help(["server", "start"], false),
    `Start the server

Usage: hq server start [OPTIONS]

Options:
      --host <HOST>     Advertised host [default: local hostname]
  -j, --journal <FILE>  Journal path
  -v, --verbose         Say more
      --idle <IDLE>     Idle timeout
  -h, --help            Print help (see more with '--help')
`,
  );
});

Deno.test("renderHelp with --help adds the GLOBAL OPTIONS section", () => {
  assert.equal(
    help(["server", "start"], true),
    `Start the server

Usage: hq server start [OPTIONS]

Options:
      --host <HOST>     Advertised host [default: local hostname]
  -j, --journal <FILE>  Journal path
  -v, --verbose         Say more
      --idle <IDLE>     Idle timeout
  -h, --help            Print help

GLOBAL OPTIONS:
      --server-dir <SERVER_DIR>    Server dir [env: HQ_SERVER_DIR=]
      --output-mode <OUTPUT_MODE>  Output mode [env: HQ_OUTPUT_MODE=] [default: cli] [possible values: cli, json, quiet]
      --debug                      Debug
`,
  );
});

Deno.test("renderHelp never shows hidden options or hidden aliases", () => {
  for (const long of [false, true]) {
    const text = help(["server", "start"], long);
    assert.doesNotMatch(text, /secret/);
    assert.doesNotMatch(text, /old-idle-name/);
    assert.doesNotMatch(text, /hidden-global|Hidden global/);
  }
});

Deno.test("renderHelp lists visible subcommands with their about text", () => {
  const text = help(["server"], false);
  assert.match(text, /^Usage: hq server <COMMAND>$/m);
  assert.match(text, /\nCommands:\n {2}start {2}Start the server\n {2}stop {3}Stop the server\n/);
  assert.doesNotMatch(text, /internal|Hidden command/);
});

Deno.test("renderHelp shows the root's about text, its subcommands and --version", () => {
  assert.equal(
    help([], false),
    `Test root

Usage: hq [OPTIONS] <COMMAND>

Commands:
  server  Commands for the server
  copy    Copy files

Options:
  -h, --help     Print help (see more with '--help')
  -V, --version  Print version
`,
  );
});

Deno.test("renderHelp offers -V, --version only on the root command", () => {
  assert.match(help([], true), /-V, --version/);
  assert.doesNotMatch(help(["server"], true), /--version/);
  assert.doesNotMatch(help(["server", "stop"], true), /--version/);
});

Deno.test("renderHelp shows required, optional and variadic positionals in the usage line", () => {
  const text = help(["copy"], false);
  assert.match(text, /^Usage: hq copy \[OPTIONS\] <SOURCE> \[TARGET\] \[EXTRA\]\.\.\.$/m);
  assert.match(
    text,
    /\nArguments:\n {2}<SOURCE> {4}Source\n {2}\[TARGET\] {4}Target\n {2}\[EXTRA\]\.\.\. {2}More\n/,
  );
});

Deno.test("renderHelp gives a command without options an [OPTIONS] usage for -h", () => {
  assert.match(help(["server", "stop"], false), /^Usage: hq server stop \[OPTIONS\]$/m);
});

Deno.test("renderHelp separates sections with one blank line and ends with a newline", () => {
  for (const names of [[], ["server"], ["server", "start"], ["copy"]]) {
    for (const long of [false, true]) {
      const text = help(names, long);
      assert.ok(text.endsWith("\n") && !text.endsWith("\n\n"));
      assert.doesNotMatch(text, /\n\n\n/);
      assert.doesNotMatch(text, / +\n/, "no trailing spaces");
    }
  }
});
