/**
 * `hq job submit-file <FILE> [--job <ID>]` (jobs spec §7.11, resources spec §9): reads a TOML job
 * definition, checks it, and sends its tasks as one graph, dependencies first.
 */
import { buildJobSubmits } from "../client/job_definition.ts";
import { HqError } from "../common/errors.ts";
import { resolvePath } from "../common/paths.ts";
import type { CliContext } from "./context.ts";
import { parseToml } from "./parse_toml.ts";
import { withClient } from "./with_client.ts";

export interface SubmitFileOptions {
  /** An open job to add the tasks to. */
  job?: number;
}

export async function runSubmitFile(
  path: string,
  options: SubmitFileOptions,
  context: CliContext,
): Promise<void> {
  const submitDir = Deno.cwd();
  let text: string;
  try {
    text = await Deno.readTextFile(resolvePath(submitDir, path));
  } catch (error) {
    throw new HqError(`Cannot read ${path}: ${error instanceof Error ? error.message : error}`);
  }
  const definition = parseToml(text);
  const { name, maxFails, submits } = buildJobSubmits(definition, {
    submitDir,
    openJob: options.job !== undefined,
  });
  await withClient(context, async (client) => {
    const response = await client.request({
      type: "submit-graph",
      jobId: options.job ?? null,
      name,
      // Resources spec §9.1 quirk: ignored (without an error) when adding to an open job.
      maxFails: options.job === undefined ? maxFails : null,
      submits,
    });
    if (response.type !== "job-created") throw new HqError("Unexpected response to submit");
    context.output.submitted(response.jobId);
  });
}
