/**
 * `hq job info <id> --output-mode json` of a 1,000,000-task array that finished (issue 18, item
 * 6): every task prints its resolved stdout/stderr paths and two timestamps (~260 bytes a task).
 * One server and one zero worker run the array once; then the CLI (a `deno run` child, stdout to
 * /dev/null) asks for the job a few times: its wall time and peak RSS (`/usr/bin/time`), and the
 * server's peak RSS during the request (its high-water mark is reset before each through
 * `/proc/<pid>/clear_refs`).
 *
 *   deno run -A bench/job_info_json.ts [--tasks N] [--rounds N] [--root DIR]...
 *
 * Each `--root` is a checkout whose `main.ts` serves and answers (e.g. a worktree of an earlier
 * commit next to this one); the roots take turns round by round.
 */
import { HqClient } from "../client/mod.ts";
import { type BenchRow, formatTable } from "./_bench_row.ts";
import { median } from "./_stats.ts";
import { hwmMb, rssMb, sleep, submitRequest, waitForWorkers, waitJob } from "./_zero_workers.ts";

const SERVER_START_MS = 30_000;

interface Args {
  tasks: number;
  rounds: number;
  roots: string[];
}

function parseArgs(): Args {
  const args = Deno.args;
  const value = (flag: string) => {
    const at = args.indexOf(flag);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const roots = args.flatMap((arg, i) => (arg === "--root" ? [args[i + 1]] : []));
  return {
    tasks: Number(value("--tasks") ?? 1_000_000),
    rounds: Number(value("--rounds") ?? 3),
    roots: roots.length > 0 ? roots : [new URL("..", import.meta.url).pathname],
  };
}

interface Setup {
  root: string;
  serverDir: string;
  server: Deno.ChildProcess;
  worker: Deno.ChildProcess;
  jobId: number;
}

function hq(root: string, args: string[], stdout: "null" | "piped" = "null"): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${root}/main.ts`, ...args],
    stdin: "null",
    stdout,
    stderr: "null",
  });
}

async function setUp(root: string, tasks: number, workDir: string): Promise<Setup> {
  const serverDir = await Deno.makeTempDir({ prefix: "hq-bench-" });
  const server = hq(root, ["server", "start", "--server-dir", serverDir, "--host", "127.0.0.1"])
    .spawn();
  const deadline = Date.now() + SERVER_START_MS;
  let client: HqClient | null = null;
  while (!client) {
    try {
      client = await HqClient.connect({ serverDir });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
  const worker = hq(root, [
    "worker",
    "start",
    "--zero-worker",
    "--cpus",
    "2",
    "--work-dir",
    `${workDir}/work`,
    "--server-dir",
    serverDir,
  ]).spawn();
  try {
    await waitForWorkers(client, 1);
    const request = submitRequest(workDir, [[0, tasks, 1]]);
    if (request.type === "submit") {
      request.submit.template.stdout = "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stdout";
      request.submit.template.stderr = "%{CWD}/job-%{JOB_ID}/%{TASK_ID}.stderr";
    }
    const response = await client.request(request);
    if (response.type !== "job-created") throw new Error(`submit failed: ${response.type}`);
    await waitJob(client, response.jobId);
    return { root, serverDir, server, worker, jobId: response.jobId };
  } finally {
    client.close();
  }
}

async function tearDown(setup: Setup): Promise<void> {
  setup.worker.kill("SIGTERM");
  await setup.worker.status;
  await hq(setup.root, ["server", "stop", "--server-dir", setup.serverDir]).output();
  await setup.server.status;
  await Deno.remove(setup.serverDir, { recursive: true });
}

interface Sample {
  seconds: number;
  clientMb: number;
  serverMb: number;
  /** The server's RSS just before the request. */
  serverBeforeMb: number;
  bytes: number;
}

async function jobInfo(setup: Setup): Promise<Sample> {
  const serverBeforeMb = rssMb(setup.server.pid);
  await Deno.writeTextFile(`/proc/${setup.server.pid}/clear_refs`, "5");
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "%M",
      "sh",
      "-c",
      `"$0" run -A --quiet "$1/main.ts" job info ${setup.jobId} --output-mode json ` +
      `--server-dir "$2" | wc -c`,
      Deno.execPath(),
      setup.root,
      setup.serverDir,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const serverMb = hwmMb(setup.server.pid);
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
  // `time` measures the largest child: the deno client (wc is tiny).
  const clientMb = Number(stderr[stderr.length - 1]) / 1024;
  const bytes = Number(new TextDecoder().decode(out.stdout).trim());
  if (!out.success || !(bytes > 0)) throw new Error(`job info failed: ${stderr.join("\n")}`);
  return { seconds, clientMb, serverMb, serverBeforeMb, bytes };
}

if (import.meta.main) {
  const { tasks, rounds, roots } = parseArgs();
  const workDir = await Deno.makeTempDir({ prefix: "hq-bench-" });
  const samples = new Map<string, Sample[]>(roots.map((root) => [root, []]));
  const setups: Setup[] = [];
  try {
    for (const root of roots) setups.push(await setUp(root, tasks, workDir));
    for (let round = 0; round < rounds; round++) {
      for (const setup of setups) {
        const sample = await jobInfo(setup);
        samples.get(setup.root)!.push(sample);
        console.error(
          `${setup.root}: ${sample.seconds.toFixed(2)} s, client ${
            sample.clientMb.toFixed(0)
          } MB, ` +
            `server ${sample.serverMb.toFixed(0)} MB (${sample.serverBeforeMb.toFixed(0)} MB ` +
            `before), ${(sample.bytes / 2 ** 20).toFixed(0)} MiB`,
        );
      }
    }
  } finally {
    for (const setup of setups) await tearDown(setup);
    await Deno.remove(workDir, { recursive: true });
  }
  const rows: BenchRow[] = [];
  for (const [root, list] of samples) {
    const label = roots.length > 1 ? `${root.replace(/\/$/, "").split("/").pop()}/` : "";
    const row = (name: string, figure: number, unit: string): BenchRow => ({
      name: `job_info_json/${label}${name}`,
      figure,
      unit,
      reference: null,
      referenceLabel: "",
      ratio: null,
      target: "",
    });
    rows.push(row("wall", median(list.map((s) => s.seconds)), "s"));
    rows.push(row("client-peak-rss", median(list.map((s) => s.clientMb)), "MB"));
    rows.push(row("server-peak-rss", median(list.map((s) => s.serverMb)), "MB"));
    rows.push(row("server-rss-before", median(list.map((s) => s.serverBeforeMb)), "MB"));
    rows.push(row("json-size", list[0].bytes / 2 ** 20, "MiB"));
  }
  console.log(formatTable(rows));
}
