// Start-up probe: import cli/run_cli.ts (parser, command tree, output) and nothing else.
import "../../cli/run_cli.ts";
