import assert from "node:assert/strict";
import { type PipeSink, spawnTask } from "./task_process.ts";

const ENV = Deno.env.toObject();

function collector(): PipeSink & { bytes(): Uint8Array } {
  const parts: Uint8Array[] = [];
  return {
    onData: (data) => parts.push(data),
    bytes: () => {
      const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
      let at = 0;
      for (const part of parts) {
        out.set(part, at);
        at += part.length;
      }
      return out;
    },
  };
}

Deno.test("spawnTask hands a piped task's stdout and stderr to the sinks byte for byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hq-pipe-test-" });
  try {
    const data = crypto.getRandomValues(new Uint8Array(60_000));
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff);
    big.set(data);
    await Deno.writeFile(`${dir}/in.bin`, big);
    const stdout = collector();
    const stderr = collector();
    const task = spawnTask({
      argv: ["sh", "-c", "cat in.bin; printf 'err\\000x' >&2"],
      env: ENV,
      cwd: dir,
      stdout,
      stderr,
    });
    assert.deepEqual(await task.exited, { type: "exited", code: 0 });
    await task.drained;
    assert.deepEqual(stdout.bytes(), big);
    assert.deepEqual(stderr.bytes(), new TextEncoder().encode("err\0x"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnTask gives concurrent piped tasks only their own pipes", async () => {
  const tasks = Array.from({ length: 40 }, (_, i) => {
    const stdout = collector();
    // The descriptors the task holds: only 0, 1 and 2 (and ls's own directory handle).
    const task = spawnTask({
      argv: ["sh", "-c", `echo task ${i}; ls /proc/self/fd | wc -l`],
      env: ENV,
      cwd: "/",
      stdout,
      stderr: null,
    });
    return { i, task, stdout };
  });
  for (const { i, task, stdout } of tasks) {
    await task.exited;
    await task.drained;
    const [first, count] = new TextDecoder().decode(stdout.bytes()).trim().split("\n");
    assert.equal(first, `task ${i}`);
    assert.ok(Number(count) <= 4, `task ${i} holds ${count} descriptors`);
  }
});

Deno.test("TaskProcess.abandonPipes ends a pipe that a background process keeps open", async () => {
  const stdout = collector();
  const task = spawnTask({
    argv: ["sh", "-c", "echo before; (sleep 5; echo late) &"],
    env: ENV,
    cwd: "/",
    stdout,
    stderr: null,
  });
  await task.exited;
  let drained = false;
  task.drained.then(() => drained = true);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(drained, false);
  task.abandonPipes();
  await task.drained;
  assert.equal(new TextDecoder().decode(stdout.bytes()), "before\n");
});

Deno.test("spawnTask with a pipe that cannot be started resolves drained", async () => {
  const task = spawnTask({
    argv: ["/nonexistent/program"],
    env: ENV,
    cwd: "/",
    stdout: collector(),
    stderr: collector(),
  });
  await assert.rejects(task.started);
  await task.drained;
});

Deno.test("spawnTask reads what a task's background process writes after the task exited", async () => {
  const stdout = collector();
  const task = spawnTask({
    argv: ["sh", "-c", "echo before; (sleep 0.2; echo late) &"],
    env: ENV,
    cwd: "/",
    stdout,
    stderr: null,
  });
  await task.exited;
  // Read when the task was reaped; the pipe stays open for its background process.
  assert.equal(new TextDecoder().decode(stdout.bytes()), "before\n");
  assert.equal(task.pipesOpen, true);
  await task.drained;
  assert.equal(task.pipesOpen, false);
  assert.equal(new TextDecoder().decode(stdout.bytes()), "before\nlate\n");
});

Deno.test("spawnTask reads a task that writes over a longer time, and one that exits at once", async () => {
  const slow = collector();
  const slowTask = spawnTask({
    argv: [
      "sh",
      "-c",
      "for i in 1 2 3 4 5; do echo $i; sleep 0.03; done; head -c 200000 /dev/zero",
    ],
    env: ENV,
    cwd: "/",
    stdout: slow,
    stderr: null,
  });
  const quick = collector();
  const quickTask = spawnTask({
    argv: ["echo", "quick"],
    env: ENV,
    cwd: "/",
    stdout: quick,
    stderr: null,
  });
  await quickTask.exited;
  // Read to its end when reaped: no waiting for the pipe reader.
  assert.equal(quickTask.pipesOpen, false);
  assert.equal(new TextDecoder().decode(quick.bytes()), "quick\n");
  await slowTask.exited;
  await slowTask.drained;
  const bytes = slow.bytes();
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 10)), "1\n2\n3\n4\n5\n");
  assert.equal(bytes.length, 10 + 200_000);
  assert.ok(bytes.subarray(10).every((byte) => byte === 0));
});
