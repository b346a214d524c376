/**
 * The `hq` that another process can run: tasks call it as `$HQ` (jobs spec §4) and PBS/Slurm
 * allocations start their workers with it (journal-alloc spec §2.6). It is the running executable
 * when that is a compiled `hq`; when hq runs as `deno run main.ts`, a small script that starts the
 * same `main.ts` with the same `deno`.
 */
import { HqError } from "./errors.ts";
import { basename, joinPath } from "./paths.ts";

/** No `hq` could be provided for other processes. */
export class HqLauncherError extends HqError {}

export interface HqLauncherOptions {
  /** The running executable. @default {Deno.execPath()} */
  execPath?: string;
  /** The entry module of the running program. @default {Deno.mainModule} */
  mainModule?: string;
}

/** File name of the launcher script written into the given directory. */
export const HQ_LAUNCHER_NAME = "hq";

/**
 * The absolute path of an `hq` others can run: the compiled executable itself, or a launcher script
 * written as `<dir>/hq` (replaced atomically, so a process running an older copy is unaffected).
 * Throws HqLauncherError when neither is possible.
 */
export async function hqLauncherPath(
  dir: string,
  options: HqLauncherOptions = {},
): Promise<string> {
  const execPath = options.execPath ?? Deno.execPath();
  if (!basename(execPath).startsWith("deno")) return execPath;
  const main = new URL(options.mainModule ?? Deno.mainModule);
  if (main.protocol !== "file:") {
    throw new HqLauncherError(`Cannot start hq from "${main.href}": it is not a local file`);
  }
  const path = joinPath(dir, HQ_LAUNCHER_NAME);
  const temporary = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(
      temporary,
      launcherScript(execPath, decodeURIComponent(main.pathname)),
      {
        mode: 0o755,
      },
    );
    await Deno.chmod(temporary, 0o755);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new HqLauncherError(`Cannot write the hq launcher script "${path}"`, { cause: error });
  }
  return path;
}

function launcherScript(denoPath: string, mainPath: string): string {
  return `#!/bin/sh\nexec ${shellQuote(denoPath)} run -A --quiet ${shellQuote(mainPath)} "$@"\n`;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
