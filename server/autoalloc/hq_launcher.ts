/**
 * The `hq` that allocations start their workers with (spec §2.6): the compiled binary, or (under
 * `deno run main.ts`) a launcher script. One implementation with the worker's `$HQ` for tasks.
 */
export { HqLauncherError, hqLauncherPath } from "../../common/hq_launcher.ts";
