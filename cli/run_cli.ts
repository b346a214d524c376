/**
 * Runs one `hq` invocation: parse, resolve the global options, run the command, render the
 * result or the error. Returns the exit code (spec §8.2).
 */
import { HqError, UsageError } from "../common/errors.ts";
import { configureLogging } from "../common/log.ts";
import { createFormatter, writeStderr, writeStdout } from "../common/output/mod.ts";
import { resolvePath } from "../common/paths.ts";
import { defaultServerDir } from "../common/server_dir.ts";
import { HQ_VERSION } from "../common/version.ts";
import { parseCommandLine } from "./args.ts";
import { type GlobalArgs, rootCommand } from "./commands.ts";
import type { CliContext, GlobalOptions } from "./context.ts";
import { renderHelp } from "./help.ts";

export async function runCli(argv: string[]): Promise<number> {
  let outcome;
  try {
    outcome = parseCommandLine(argv, rootCommand, { env: (name) => Deno.env.get(name) });
  } catch (error) {
    if (error instanceof UsageError) {
      writeStderr(`error: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
  if (outcome.type === "version") {
    writeStdout(`hyperqueue ${HQ_VERSION}\n`);
    return 0;
  }
  if (outcome.type === "help") {
    const text = renderHelp(outcome.path, outcome.long);
    if (outcome.toStderr) writeStderr(text);
    else writeStdout(text);
    return outcome.exitCode;
  }
  const globals = resolveGlobals(outcome.globals as GlobalArgs);
  configureLogging({ debug: globals.debug });
  const context: CliContext = {
    globals,
    output: createFormatter(globals.outputMode, globals.colors),
  };
  const command = outcome.path[outcome.path.length - 1];
  try {
    const code = (await command.run!(outcome.values, context, outcome.given)) ?? 0;
    context.output.finish();
    return code;
  } catch (error) {
    if (error instanceof UsageError) {
      writeStderr(`error: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof HqError) {
      context.output.error(error);
      return error.exitCode;
    }
    throw error;
  }
}

function resolveGlobals(args: GlobalArgs): GlobalOptions {
  return {
    serverDir: args.serverDir === undefined
      ? defaultServerDir()
      : resolvePath(Deno.cwd(), args.serverDir),
    outputMode: args.outputMode,
    colors: args.colors,
    debug: args.debug,
  };
}
