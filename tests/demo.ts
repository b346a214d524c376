/**
 * `deno task demo`: a tour of what hq does today, in a temporary server directory. Starts a
 * server and a worker, asks about them in each output mode, stops them, shows what clients see
 * once the server is gone, and cleans up. Grows with the product (a job array comes next).
 */
import { hq, HqProcess, tempDir, waitUntil } from "./harness.ts";

async function show(args: string[], serverDir: string): Promise<void> {
  console.log(`\n$ hq ${args.join(" ")}`);
  const result = await hq([...args, "--server-dir", serverDir]);
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
await show(["worker", "list", "--output-mode", "quiet"], dir.path);
await show(["worker", "stop", "all"], dir.path);
console.log(`  (worker exited with code ${(await worker.status()).code})`);
await show(["worker", "list", "--all"], dir.path);
await show(["server", "stop"], dir.path);
console.log(`  (server exited with code ${(await server.status()).code})`);
await show(["server", "info"], dir.path);
console.log("\nDemo finished; everything it started has ended.");
