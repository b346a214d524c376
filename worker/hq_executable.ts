/**
 * The `hq` a task can call (`$HQ`, jobs spec §4): the worker's own executable when it is a
 * compiled `hq`; when the worker runs as `deno run main.ts`, a small script in the work
 * directory that starts the same `main.ts` the same way.
 */
import { describeError } from "../common/errors.ts";
import { hqLauncherPath } from "../common/hq_launcher.ts";
import { logger } from "../common/log.ts";

const log = logger("worker::hq_executable");

export async function hqExecutable(workDir: string): Promise<string | undefined> {
  try {
    return await hqLauncherPath(workDir);
  } catch (error) {
    const cause = error instanceof Error && error.cause !== undefined
      ? `: ${describeError(error.cause)}`
      : "";
    log.warn(`Tasks get no hq executable: ${describeError(error)}${cause}`);
    return undefined;
  }
}
