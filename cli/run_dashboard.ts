/** `hq dashboard` (journal-alloc spec §4). */
import { HqError } from "../common/errors.ts";
import type { CliContext } from "./context.ts";
import type { DashboardArgs, DashboardReplayArgs } from "./misc_commands.ts";

export function runDashboardStream(_args: DashboardArgs, _context: CliContext): Promise<void> {
  return Promise.reject(new HqError("The dashboard is not supported by this version of hq"));
}

export function runDashboardReplay(
  _args: DashboardReplayArgs,
  _context: CliContext,
): Promise<void> {
  return Promise.reject(new HqError("The dashboard is not supported by this version of hq"));
}
