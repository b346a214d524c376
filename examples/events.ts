/**
 * Prints the server's events: every past one, then live ones until Ctrl-C (or, with `--past`,
 * only the past ones).
 *
 *     deno run -A examples/events.ts [--past] [SERVER_DIR]
 */
import { connect } from "../mod.ts";

const past = Deno.args.includes("--past");
const serverDir = Deno.args.find((arg) => arg !== "--past");
await using hq = await connect({ serverDir });

for await (const { timeMs, event } of hq.events({ live: !past })) {
  const time = new Date(timeMs).toISOString();
  switch (event.type) {
    case "worker-connected":
      console.log(
        `${time} worker ${event.workerId} connected from ${event.configuration.hostname}`,
      );
      break;
    case "task-failed":
      console.log(`${time} task ${event.jobId}@${event.taskId} failed: ${event.error}`);
      break;
    default:
      console.log(`${time} ${event.type}`);
  }
}
