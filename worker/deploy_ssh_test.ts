import assert from "node:assert/strict";
import { findSsh, shellQuote, sshArgs, SshNotFoundError } from "./deploy_ssh.ts";

Deno.test("sshArgs puts the host first, forces a terminal and adds the port only when given", () => {
  const remote = ["/opt/hq", "worker", "start", "--cpus", "4"];
  assert.deepEqual(sshArgs({ hostname: "node1", port: undefined, line: "node1" }, remote), [
    "node1",
    "-t",
    "-t",
    "--",
    "/opt/hq",
    "worker",
    "start",
    "--cpus",
    "4",
  ]);
  assert.deepEqual(
    sshArgs({ hostname: "user@node2", port: 2222, line: "user@node2:2222" }, ["/opt/hq"]),
    ["user@node2", "-t", "-t", "-p", "2222", "--", "/opt/hq"],
  );
});

Deno.test("shellQuote leaves plain words bare and quotes what the remote shell would change", () => {
  for (const word of ["--cpus", "4", "/opt/hq-1.0/bin/hq", "--idle-timeout=5m", "a,b:c@d%e+f"]) {
    assert.equal(shellQuote(word), word);
  }
  assert.equal(shellQuote("over ssh"), "'over ssh'");
  assert.equal(shellQuote("[[0,1],[2,3]]"), "'[[0,1],[2,3]]'");
  assert.equal(shellQuote("$HOME/*"), "'$HOME/*'");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote(""), "''");
});

Deno.test("shellQuote survives a round trip through sh", async () => {
  const words = ["over ssh", "[0,1]", "$HOME", "it's", 'a"b', "", "*", "x;y", "\\n", "tab\there"];
  const output = await new Deno.Command("/bin/sh", {
    args: ["-c", `printf '%s\\0' ${words.map(shellQuote).join(" ")}`],
  }).output();
  assert.deepEqual(new TextDecoder().decode(output.stdout).split("\0").slice(0, -1), words);
});

Deno.test("findSsh takes the first executable ssh on PATH", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hq-find-ssh-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await Deno.mkdir(`${dir}/c`);
    await Deno.writeTextFile(`${dir}/a/ssh`, "not executable", { mode: 0o644 });
    await Deno.writeTextFile(`${dir}/b/ssh`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/c/ssh`, "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(findSsh(`::${dir}/a:${dir}/b:${dir}/c`), `${dir}/b/ssh`);
    assert.throws(() => findSsh(`${dir}/a`), SshNotFoundError);
    assert.throws(() => findSsh(""), SshNotFoundError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
