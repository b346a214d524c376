/**
 * Submits a small task graph (a fan-out and a fan-in) and prints when each task ran.
 *
 *     deno run -A examples/task_graph.ts [SERVER_DIR]
 */
import { connect, type GraphTask } from "../mod.ts";

await using hq = await connect({ serverDir: Deno.args[0] });

const work: GraphTask[] = [1, 2, 3].map((id) => ({
  id,
  command: ["bash", "-c", `echo part ${id}`],
  deps: [0],
}));
const jobId = await hq.submitJob({
  name: "graph",
  task: [
    { id: 0, command: ["bash", "-c", "echo prepare"] },
    ...work,
    { id: 4, command: ["bash", "-c", "echo merge"], deps: [1, 2, 3] },
  ],
});
const job = await hq.wait(jobId);
console.log(`job ${jobId}: ${job.state}`);
const tasks = await hq.tasks(jobId);
tasks.sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0));
for (const task of tasks) console.log(`  task ${task.id} started ${task.startedAt?.toISOString()}`);
