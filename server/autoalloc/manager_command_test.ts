import { equal, ok, rejects } from "node:assert/strict";
import { tempDir } from "../../tests/harness.ts";
import { ManagerCommandError, runManagerCommand } from "./manager_command.ts";

Deno.test("runManagerCommand runs the program without a shell, in the given directory", async () => {
  await using dir = await tempDir("hq-manager-command-");
  equal(await runManagerCommand("pwd", [], { cwd: dir.path }), `${dir.path}\n`);
  // No shell: `$HOME` and `;` reach the program as they are.
  equal(await runManagerCommand("echo", ["$HOME;", "x"], { cwd: dir.path }), "$HOME; x\n");
  equal(
    await runManagerCommand("sh", ["-c", 'echo "$HQ_TEST_VAR"'], {
      cwd: dir.path,
      env: { HQ_TEST_VAR: "42" },
    }),
    "42\n",
  );
});

Deno.test("runManagerCommand reports a non-zero exit with its stderr and stdout, trimmed", async () => {
  await rejects(
    runManagerCommand("sh", ["-c", "echo ' out '; echo 'bad thing' >&2; exit 3"], { cwd: "/" }),
    (error) => {
      ok(error instanceof ManagerCommandError);
      equal(error.message, "Exit code: 3\nStderr: bad thing\nStdout: out");
      return true;
    },
  );
  await rejects(runManagerCommand("sh", ["-c", "kill -9 $$"], { cwd: "/" }), {
    message: "Exit code: None\nStderr: \nStdout: ",
  });
});

Deno.test("runManagerCommand says which program is missing, or which directory", async () => {
  await rejects(runManagerCommand("hq-no-such-qsub", [], { cwd: "/" }), {
    name: "ManagerCommandError",
    message: `Cannot run "hq-no-such-qsub": program not found on PATH`,
  });
  await rejects(runManagerCommand("qsub", [], { cwd: "/", env: { PATH: "/nonexistent" } }), {
    message: `Cannot run "qsub": program not found on PATH`,
  });
  await rejects(runManagerCommand("/no/such/sbatch", [], { cwd: "/" }), {
    message: `Cannot run "/no/such/sbatch": program not found`,
  });
  await rejects(runManagerCommand("true", [], { cwd: "/no/such/dir" }), {
    message: `Cannot run "true": its working directory "/no/such/dir" does not exist`,
  });
});

Deno.test("runManagerCommand stops a command that runs past its timeout", async () => {
  const start = Date.now();
  await rejects(runManagerCommand("sleep", ["10"], { cwd: "/", timeoutMs: 200 }), {
    message: "Command `sleep 10` did not finish within 200ms",
  });
  ok(Date.now() - start < 5_000);
});
