/**
 * The `hq` a task can call (`$HQ`, jobs spec §4): the worker's own executable when it is a
 * compiled `hq`; when the worker runs as `deno run main.ts`, a small script in the work
 * directory that starts the same `main.ts` the same way.
 */
import { describeError } from "../common/errors.ts";
import { logger } from "../common/log.ts";
import { basename, joinPath } from "../common/paths.ts";

const log = logger("worker::hq_executable");

export async function hqExecutable(workDir: string): Promise<string | undefined> {
  const execPath = Deno.execPath();
  if (!basename(execPath).startsWith("deno")) return execPath;
  const main = new URL(Deno.mainModule);
  if (main.protocol !== "file:") return undefined;
  const path = joinPath(workDir, "hq");
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const script = `#!/bin/sh\nexec ${quote(execPath)} run -A --quiet ${
    quote(decodeURIComponent(main.pathname))
  } "$@"\n`;
  try {
    await Deno.writeTextFile(path, script, { mode: 0o755 });
    return path;
  } catch (error) {
    log.warn(`Cannot write the tasks' hq script at ${path}: ${describeError(error)}`);
    return undefined;
  }
}
