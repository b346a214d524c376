/**
 * `deno task demo`: a tour of what hq does today, in a temporary server directory. Starts a
 * server and a worker, runs a 1,000-task job array on it, shows the job and a task's output,
 * stops everything, shows what clients see once the server is gone, and cleans up.
 */
import { hq, HqProcess, tempDir, waitUntil } from "./harness.ts";

async function show(args: string[], serverDir: string, cwd?: string): Promise<void> {
  console.log(`\n$ hq ${args.join(" ")}`);
  const result = await hq(["--server-dir", serverDir, ...args], { cwd });
  if (result.stdout) console.log(result.stdout.trimEnd());
  if (result.stderr) console.log(result.stderr.trimEnd().replace(/^/gm, "  (stderr) "));
  if (result.code !== 0) console.log(`  (exit code ${result.code})`);
}

await using dir = await tempDir("hq-demo-");
await using logs = await tempDir("hq-demo-logs-");
console.log(`Server directory: ${dir.path}`);
console.log("\n$ hq server start --host 127.0.0.1 &");
await using server = new HqProcess(
  ["server", "start", "--host", "127.0.0.1", "--server-dir", dir.path],
  { logDir: logs.path },
);
await waitUntil(() => server.stdout().includes("Journal path"), { what: "the server to start" });
console.log(server.stdout().trimEnd());

await show(["server", "info", "--output-mode", "json"], dir.path);

console.log("\n$ hq worker start --cpus 2x4 --work-dir <tmp> &");
await using worker = new HqProcess(
  ["worker", "start", "--cpus", "2x4", "--work-dir", `${logs.path}/work`, "--server-dir", dir.path],
  { logDir: logs.path },
);
await waitUntil(() => worker.stdout().includes("Last task started"), {
  what: "the worker to register",
});
console.log(worker.stdout().trimEnd());

await show(["worker", "list"], dir.path);

const work = `${logs.path}/results`;
await Deno.mkdir(work);
const started = performance.now();
await show(
  [
    "submit",
    "--array",
    "1-1000",
    "--cpus",
    "1",
    "--wait",
    "--",
    "bash",
    "-c",
    "echo task $HQ_TASK_ID of job $HQ_JOB_ID ran on CPU $HQ_CPUS",
  ],
  dir.path,
  work,
);
console.log(
  `  (1,000 tasks submitted and waited for in ${Math.round(performance.now() - started)} ms)`,
);
await show(["job", "list", "--all"], dir.path);
await show(["job", "info", "1"], dir.path);
console.log(`\n$ cat job-1/42.stdout`);
console.log((await Deno.readTextFile(`${work}/job-1/42.stdout`)).trimEnd());
let lines = 0;
for await (const entry of Deno.readDir(`${work}/job-1`)) {
  if (entry.name.endsWith(".stdout")) {
    lines += (await Deno.readTextFile(`${work}/job-1/${entry.name}`)).split("\n").length - 1;
  }
}
console.log(`  (${lines} lines written by the tasks in all)`);
await show(["worker", "stop", "all"], dir.path);
console.log(`  (worker exited with code ${(await worker.status()).code})`);
await show(["worker", "list", "--all"], dir.path);
await show(["server", "stop"], dir.path);
console.log(`  (server exited with code ${(await server.status()).code})`);
await show(["server", "info"], dir.path);
console.log("\nDemo finished; everything it started has ended.");
