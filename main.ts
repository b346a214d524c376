/** The `hq` command line: `deno run -A main.ts <args>` behaves exactly as the `hq` binary. */
import { runCli } from "./cli/run_cli.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
