/**
 * The command-line frame every `hq` command shares (spec §1, §8): usage errors, help, version,
 * global options and their environment variables, logging to stderr, JSON errors and a closed
 * stdout pipe.
 */
import assert from "node:assert/strict";
import { hq, hqCommand, hqOk, type HqResult, tempDir, TestServer, waitUntil } from "./harness.ts";

const OUTPUT_MODES = ["cli", "json", "quiet"] as const;
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARN|ERROR|DEBUG) /;
const DEBUG_LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARN|ERROR|DEBUG) /;
const STACK_FRAME = /^\s+at .*:\d+:\d+\)?$/m;

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

function assertUsageError(result: HqResult, what: string): void {
  assert.equal(result.code, 2, `${what}: exit code\n${result.stderr}`);
  assert.equal(result.stdout, "", `${what}: stdout`);
  assert.match(result.stderr, /^error: [^\n]+\n$/, `${what}: one "error:" line on stderr`);
  assert.doesNotMatch(result.stderr, STACK_FRAME, what);
}

async function labelled<T>(label: string, promise: Promise<T>): Promise<[string, T]> {
  return [label, await promise];
}

/** Runs `hq <args> | <reader>` in bash; the exit status is hq's, thanks to pipefail. */
async function hqIntoPipe(args: string[], reader: string): Promise<HqResult> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(Deno.env.toObject())) {
    if (!key.startsWith("HQ_")) env[key] = value;
  }
  const output = await new Deno.Command("bash", {
    args: ["-c", `set -o pipefail; "$@" | ${reader}`, "bash", ...hqCommand(args)],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("usage errors print one error line on stderr and exit 2, in every output mode", async () => {
  await using dir = await tempDir();
  const cases: Record<string, string[]> = {
    "an unknown subcommand": ["frobnicate"],
    "an unknown flag": ["server", "info", "--frobnicate"],
    "a bad duration": ["server", "wait", "--timeout", "5x"],
    "a missing required option": ["server", "generate-access", "access.json"],
    "a bad colour policy": ["server", "info", "--colors", "sometimes"],
  };
  for (const [what, args] of Object.entries(cases)) {
    const runs = OUTPUT_MODES.flatMap((mode) => [
      labelled(`--output-mode ${mode}`, hq([...args, "--output-mode", mode], { cwd: dir.path })),
      labelled(
        `HQ_OUTPUT_MODE=${mode}`,
        hq(args, { cwd: dir.path, env: { HQ_OUTPUT_MODE: mode } }),
      ),
    ]);
    for (const [mode, result] of await Promise.all(runs)) {
      assertUsageError(result, `${what} with ${mode}`);
    }
  }
  for await (const entry of Deno.readDir(dir.path)) {
    assert.fail(`a usage error left "${entry.name}" behind`);
  }
});

Deno.test("a bad output mode is a usage error from the flag and from HQ_OUTPUT_MODE", async () => {
  const runs = [
    labelled("--output-mode xml", hq(["server", "info", "--output-mode", "xml"])),
    labelled("--output-mode=yaml first", hq(["--output-mode=yaml", "server", "info"])),
    labelled("HQ_OUTPUT_MODE=xml", hq(["server", "info"], { env: { HQ_OUTPUT_MODE: "xml" } })),
    ...OUTPUT_MODES.map((mode) =>
      labelled(
        `--output-mode xml with HQ_OUTPUT_MODE=${mode}`,
        hq(["server", "info", "--output-mode", "xml"], { env: { HQ_OUTPUT_MODE: mode } }),
      )
    ),
  ];
  for (const [what, result] of await Promise.all(runs)) {
    assertUsageError(result, what);
    assert.match(result.stderr, /\[possible values: cli, json, quiet\]/, what);
  }
});

Deno.test("hq --version prints the version and exits 0", async () => {
  const result = await hq(["--version"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^hyperqueue v\d+\.\d+\.\d+\S*\n$/);
  assert.equal(result.stderr, "");
});

Deno.test("--help lists the global options and -h does not, at every level", async () => {
  for (const path of [[], ["server"], ["server", "start"]]) {
    const [long, short] = await Promise.all([hq([...path, "--help"]), hq([...path, "-h"])]);
    const where = `hq ${path.join(" ")}`;
    assert.equal(long.code, 0, `${where} --help`);
    assert.equal(short.code, 0, `${where} -h`);
    assert.equal(long.stderr, "");
    assert.equal(short.stderr, "");
    assert.match(long.stdout, /Usage: hq/);
    assert.match(short.stdout, /Usage: hq/);
    assert.match(long.stdout, /^GLOBAL OPTIONS:$/m, `${where} --help`);
    assert.match(long.stdout, /--server-dir/);
    assert.doesNotMatch(short.stdout, /GLOBAL OPTIONS/, `${where} -h`);
    assert.doesNotMatch(short.stdout, /--server-dir|--output-mode/, `${where} -h`);
  }
});

Deno.test("hq and hq server without a subcommand print help to stderr and exit 2", async () => {
  for (const args of [[], ["server"]]) {
    const result = await hq(args);
    assert.equal(result.code, 2, `hq ${args.join(" ")}`);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /Usage: hq/);
    assert.match(result.stderr, /^Commands:$/m);
  }
});

Deno.test("global options work before and after the subcommand", async () => {
  await using server = await TestServer.start();
  const variants = [
    ["--output-mode", "json", "server", "info", "--server-dir", server.dir],
    ["server", "info", "--server-dir", server.dir, "--output-mode=json"],
    ["--server-dir", server.dir, "server", "--output-mode", "json", "info"],
  ];
  for (const args of variants) {
    const info = JSON.parse(await hqOk(args));
    assert.equal(info.pid, server.process.pid, args.join(" "));
  }
});

Deno.test("HQ_OUTPUT_MODE and HQ_SERVER_DIR are used, and flags beat them", async () => {
  await using server = await TestServer.start();
  await using elsewhere = await tempDir();

  const fromEnv = await hqOk(["server", "info"], {
    env: { HQ_SERVER_DIR: server.dir, HQ_OUTPUT_MODE: "json" },
  });
  assert.equal(JSON.parse(fromEnv).pid, server.process.pid);

  const quietFlag = await hq(["server", "info", "--output-mode", "quiet"], {
    env: { HQ_SERVER_DIR: server.dir, HQ_OUTPUT_MODE: "json" },
  });
  assert.equal(quietFlag.code, 0, quietFlag.stderr);
  assert.equal(quietFlag.stdout, "");

  const cliFlag = await hqOk(["server", "info", "--output-mode=cli"], {
    env: { HQ_SERVER_DIR: server.dir, HQ_OUTPUT_MODE: "quiet" },
  });
  assert.match(cliFlag, new RegExp(`^\\| Pid +\\| ${server.process.pid} +\\|$`, "m"));

  const dirFlag = await hq(["server", "info", "--server-dir", server.dir, "--output-mode=json"], {
    env: { HQ_SERVER_DIR: elsewhere.path },
  });
  assert.equal(dirFlag.code, 0, dirFlag.stderr);
  assert.equal(JSON.parse(dirFlag.stdout).pid, server.process.pid);

  const wrongDirFromEnv = await hq(["server", "info"], { env: { HQ_SERVER_DIR: elsewhere.path } });
  assert.equal(wrongDirFromEnv.code, 1);
  assert.match(wrongDirFromEnv.stderr, /^No running instance of HQ found at/);
});

Deno.test("HQ_DEBUG=true logs debug lines with millisecond timestamps", async () => {
  await using server = await TestServer.start({ env: { HQ_DEBUG: "true" } });
  await hqOk(["server", "info", "--server-dir", server.dir]);
  await waitUntil(() => /DEBUG .*Client connected from/.test(server.process.stderr()), {
    what: "a debug line about the client",
  });
  const logged = lines(server.process.stderr());
  for (const line of logged) assert.match(line, DEBUG_LOG_LINE);
  assert.ok(logged.some((line) => / INFO .*HyperQueue v/.test(line)));

  const viaFlag = await hq(["server", "wait", "--timeout", "1s", "--debug"], {
    env: { HQ_SERVER_DIR: server.dir },
  });
  assert.equal(viaFlag.code, 0, viaFlag.stderr);
  assert.match(viaFlag.stderr, /^\S+\.\d{3}Z INFO .*Successfully connected to server$/m);
});

Deno.test("HQ_DEBUG must be true or false", async () => {
  const [maybe, off] = await Promise.all([
    hq(["server", "info"], { env: { HQ_DEBUG: "maybe" } }),
    hq(["--version"], { env: { HQ_DEBUG: "false" } }),
  ]);
  assertUsageError(maybe, "HQ_DEBUG=maybe");
  assert.match(maybe.stderr, /true.*false/);
  assert.equal(off.code, 0, off.stderr);
});

Deno.test("a runtime error in JSON mode is one {error} object on stdout with exit 1", async () => {
  await using dir = await tempDir();
  const missing = await hq([
    "server",
    "info",
    "--output-mode",
    "json",
    "--server-dir",
    `${dir.path}/missing`,
  ]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "");
  const error = JSON.parse(missing.stdout);
  assert.deepEqual(Object.keys(error), ["error"]);
  assert.match(error.error, /^Invalid server directory\n\nCaused by:\n/);

  await Deno.writeTextFile(`${dir.path}/taken.json`, "{}");
  const taken = await hq(
    ["server", "generate-access", "taken.json", "--client-port", "1", "--worker-port", "2"],
    { cwd: dir.path, env: { HQ_OUTPUT_MODE: "json" } },
  );
  assert.equal(taken.code, 1);
  assert.equal(taken.stderr, "");
  assert.match(JSON.parse(taken.stdout).error, /already exists/);
  assert.doesNotMatch(taken.stdout, STACK_FRAME);
});

Deno.test("a closed stdout pipe ends client commands quietly", async () => {
  await using server = await TestServer.start();
  const info = ["server", "info", "--server-dir", server.dir];
  // `head -n 1` reads one line and leaves; `true` reads nothing and is normally gone before hq
  // writes, so hq meets a pipe without a reader.
  const cases: Array<[string[], string]> = [
    [info, "head -n 1"],
    [info, "true"],
    [[...info, "--output-mode", "json"], "head -n 1"],
    [[...info, "--output-mode", "json"], "true"],
  ];
  for (const [args, reader] of cases) {
    const result = await hqIntoPipe(args, reader);
    const what = `hq ${args.slice(0, 2).join(" ")} ${args.slice(4).join(" ")} | ${reader}`;
    assert.equal(result.code, 0, `${what}: exit status ${result.code}\n${result.stderr}`);
    assert.equal(result.stderr, "", what);
    if (reader.startsWith("head")) assert.match(result.stdout, /^(\+-+\+-+\+|\{)\n$/, what);
  }
});

Deno.test("log lines on stderr carry a second-precision UTC timestamp and a level", async () => {
  // The disabled authentication adds a multi-line WARN banner: every line of it is a log line.
  await using server = await TestServer.start({
    args: ["--disable-client-authentication-and-encryption"],
  });
  const stop = await server.hq(["server", "stop"]);
  assert.equal(stop.code, 0, stop.stderr);
  await server.process.status();
  const serverLines = lines(server.process.stderr());
  assert.ok(serverLines.some((line) => / WARN #+$/.test(line)), "the WARN banner is logged");
  assert.ok(serverLines.some((line) => / INFO Stopping server$/.test(line)));
  for (const line of [...serverLines, ...lines(stop.stderr)]) assert.match(line, LOG_LINE);
  assert.match(stop.stderr, / INFO Stopping server\n$/);
});
