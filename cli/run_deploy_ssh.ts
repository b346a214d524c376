import { HqLauncherError, hqLauncherPath } from "../common/hq_launcher.ts";
import { writeStdout } from "../common/output/mod.ts";
import { deploySsh, findSsh, loadHostfile } from "../worker/mod.ts";
import { parseCommandLine } from "./args.ts";
import { rootCommand } from "./commands.ts";
import type { CliContext } from "./context.ts";
import { renderHelp } from "./help.ts";
import type { DeploySshArgs } from "./worker_commands.ts";

/**
 * `hq worker deploy-ssh` (spec §4.7). The forwarded arguments are checked here as `hq worker
 * start` would check them, so a typo is one usage error instead of one failed worker per host.
 */
export async function runDeploySsh(args: DeploySshArgs, context: CliContext): Promise<number> {
  // The remote environment is not ours: only the command line is checked, not HQ_* variables.
  const check = parseCommandLine(["worker", "start", ...args.workerStartArgs], rootCommand, {
    env: () => undefined,
  });
  if (check.type === "help") {
    writeStdout(renderHelp(check.path, check.long));
    return check.exitCode;
  }
  const hosts = await loadHostfile(args.hostfile);
  const ssh = findSsh();
  await deploySsh(hosts, {
    ssh,
    hqPath: await remoteHqPath(context.globals.serverDir),
    workerArgs: args.workerStartArgs,
    showOutput: args.showOutput,
  });
  return 0;
}

/**
 * The compiled hq itself, or under `deno run main.ts` a launcher script in the root server
 * directory: remote workers that find the server by default need that directory on every host
 * anyway. The directory is created only when a script has to go there.
 */
async function remoteHqPath(root: string): Promise<string> {
  try {
    return await hqLauncherPath(root);
  } catch (error) {
    if (!(error instanceof HqLauncherError) || await isDirectory(root)) throw error;
  }
  try {
    await Deno.mkdir(root, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new HqLauncherError(`Cannot create the server directory "${root}"`, { cause: error });
  }
  return await hqLauncherPath(root);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
