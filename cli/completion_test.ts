import assert from "node:assert/strict";
import { hq } from "../tests/harness.ts";
import { type Command, longName } from "./args.ts";
import { rootCommand } from "./commands.ts";
import { completionNodes, renderCompletion } from "./completion.ts";
import type { CliContext } from "./context.ts";
import { docUrl } from "./run_doc.ts";

const SHELLS = ["bash", "elvish", "fish", "powershell", "zsh"] as const;

function* walk(path: Command<CliContext>[]): Generator<Command<CliContext>[]> {
  yield path;
  for (const sub of path[path.length - 1].subcommands) {
    if (!sub.hidden) yield* walk([...path, sub]);
  }
}

function hasShell(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function run(program: string, args: string[], stdin?: string) {
  const child = new Deno.Command(program, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function scriptFile(shell: typeof SHELLS[number]): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "hq-completion-", suffix: `.${shell}` });
  await Deno.writeTextFile(path, renderCompletion(shell, rootCommand));
  return path;
}

Deno.test("completion nodes cover every visible subcommand and option of the tree", () => {
  const nodes = new Map(completionNodes(rootCommand).map((node) => [node.path.join(" "), node]));
  for (const path of walk([rootCommand])) {
    const command = path[path.length - 1];
    const node = nodes.get(path.map((c) => c.name).join(" "));
    assert.ok(node, `no completion for ${path.map((c) => c.name).join(" ")}`);
    for (const sub of command.subcommands.filter((s) => !s.hidden)) {
      assert.ok(node.subcommands.some((s) => s.name === sub.name), `${sub.name} missing`);
    }
    const words = new Set(node.options.flatMap((o) => o.longs));
    for (const [key, arg] of Object.entries({ ...command.args, ...rootCommand.args })) {
      if (arg.hidden || arg.kind === "positional" || arg.shortOnly) continue;
      assert.ok(words.has(`--${longName(key, arg)}`), `--${longName(key, arg)} missing`);
    }
  }
});

Deno.test("every script names every subcommand and long option", () => {
  const names = new Set<string>();
  for (const node of completionNodes(rootCommand)) {
    for (const sub of node.subcommands) names.add(sub.name);
    for (const option of node.options) for (const long of option.longs) names.add(long);
  }
  for (const shell of SHELLS) {
    const script = renderCompletion(shell, rootCommand);
    for (const name of names) {
      // fish names a long option without its dashes (`-l debug`).
      const form = shell === "fish" && name.startsWith("--") ? `-l ${name.slice(2)}` : name;
      assert.ok(script.includes(form), `${shell}: ${form} missing`);
    }
  }
});

Deno.test("hq generate-completion writes the script to stdout and a note to stderr", async () => {
  for (const shell of SHELLS) {
    const result = await hq(["generate-completion", shell]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, `Generating completion file for ${shell}...\n`);
    assert.equal(result.stdout, renderCompletion(shell, rootCommand));
  }
  const bad = await hq(["generate-completion", "tcsh"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /possible values: bash, elvish, fish, powershell, zsh/);
});

Deno.test("the bash script parses and completes through compgen", async () => {
  const path = await scriptFile("bash");
  try {
    assert.equal((await run("bash", ["-n", path])).code, 0);
    const cases: Array<[string[], string]> = [
      [["hq", "sub"], "submit"],
      [["hq", "j"], "job journal"],
      [["hq", "job", "li"], "list"],
      [["hq", "--server-dir", "/tmp/x", "job", "l"], "list"],
      [["hq", "--output-mode", "j"], "json"],
      [["hq", "--output-mode=q"], "--output-mode=quiet"],
      [["hq", "generate-completion", "z"], "zsh"],
      [["hq", "doc", "res"], "resources"],
      [["hq", "alloc", "add", "s"], "slurm"],
      [["hq", "dashboard", "re"], "replay"],
      [["hq", "job", "list", "--v"], "--verbose"],
    ];
    let program = `source '${path}'\n`;
    for (const [words] of cases) {
      const quoted = words.map((w) => `'${w}'`).join(" ");
      program += `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _hq; ` +
        `echo "\${COMPREPLY[*]}"\n`;
    }
    const result = await run("bash", ["--norc", "--noprofile"], program);
    assert.equal(result.stderr, "");
    assert.deepEqual(result.stdout.trimEnd().split("\n"), cases.map(([, expected]) => expected));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test({
  name: "the zsh script parses (zsh -n)",
  ignore: !hasShell("zsh") && (console.log("skipped: zsh is not installed"), true),
  fn: async () => {
    const path = await scriptFile("zsh");
    try {
      const result = await run("zsh", ["-n", path]);
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "the fish script parses and completes (fish --no-execute, complete -C)",
  ignore: !hasShell("fish") && (console.log("skipped: fish is not installed"), true),
  fn: async () => {
    const path = await scriptFile("fish");
    try {
      const parsed = await run("fish", ["--no-execute", path]);
      assert.equal(parsed.code, 0, parsed.stderr);
      const result = await run("fish", [
        "--no-config",
        "-c",
        `source '${path}'; complete -C 'hq sub'; complete -C 'hq job li'; ` +
        `complete -C 'hq --output-mode q'`,
      ]);
      assert.equal(result.stderr, "");
      const firsts = result.stdout.trimEnd().split("\n").map((line) => line.split("\t")[0]);
      assert.deepEqual(firsts, ["submit", "list", "quiet"]);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "the elvish script compiles and completes (edit: replaced by plain output)",
  ignore: !hasShell("elvish") && (console.log("skipped: elvish is not installed"), true),
  fn: async () => {
    // The `edit:` module exists only in an interactive elvish: the test binds the completer to a
    // variable and turns candidates into plain values.
    const script = renderCompletion("elvish", rootCommand)
      .replace("set edit:completion:arg-completer[hq] = ", "var completer = ")
      .replace("edit:complex-candidate $text &display=$text' '$desc", "put $text");
    const program = `${script}\n$completer hq job '' | each {|c| echo $c }\n`;
    const result = await run("elvish", ["-norc", "-c", program]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    for (const expected of ["list", "submit", "cancel", "--server-dir", "--help"]) {
      assert.ok(lines.includes(expected), `${expected} not offered: ${lines.join(" ")}`);
    }
  },
});

Deno.test("hq doc prints the URL of a topic, of an alias and of the version root", async () => {
  assert.equal(
    docUrl("resources"),
    "https://it4innovations.github.io/hyperqueue/v0.26.2/jobs/resources",
  );
  assert.equal(
    docUrl("slurm"),
    "https://it4innovations.github.io/hyperqueue/v0.26.2/deployment/allocation",
  );
  assert.equal(docUrl("tasks"), "https://it4innovations.github.io/hyperqueue/v0.26.2/jobs/jobs");
  assert.equal(docUrl(undefined), "https://it4innovations.github.io/hyperqueue/v0.26.2/");
  const url = "https://it4innovations.github.io/hyperqueue/v0.26.2/jobs/resources";
  const result = await hq(["doc", "resources"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `${url}\n`);
  // The link is printed in every mode; JSON mode ends with the `{}` of a command that printed
  // nothing through the output printer (the spec's conventions).
  const json = await hq(["doc", "resources", "--output-mode", "json"]);
  assert.equal(json.stdout, `${url}\n{}\n`);
  const bad = await hq(["doc", "nothing"]);
  assert.equal(bad.code, 2);
});
