/**
 * Submits a 10-task array, waits for it and prints its tasks.
 *
 *     deno run -A examples/submit_and_wait.ts [SERVER_DIR]
 *
 * The server directory defaults to `$HQ_SERVER_DIR`, else `~/.hq-server`. A worker must be
 * running (`hq worker start`). Each task's stdout lands in `job-<id>/<task>.stdout`.
 */
import { connect } from "../mod.ts";

const serverDir = Deno.args[0];
await using hq = await connect({ serverDir });

const { jobId } = await hq.submit({
  name: "api",
  command: ["bash", "-c", "echo $HQ_TASK_ID"],
  array: "1-10",
});
const job = await hq.wait(jobId);
console.log(`job ${job.id} (${job.name}): ${job.state}, ${job.taskStats.finished} tasks finished`);
for (const task of await hq.tasks(jobId)) {
  console.log(`  task ${task.id}: ${task.state} on worker ${task.workerId}`);
}
