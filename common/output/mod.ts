/** Output for users: the three formatters, tables, sorted JSON, and stdout/stderr writing. */
import { type ColorPolicy, colorsEnabled } from "./colors.ts";
import { CliFormatter } from "./cli_formatter.ts";
import type { Formatter, OutputMode } from "./formatter.ts";
import { JsonFormatter } from "./json_formatter.ts";
import { QuietFormatter } from "./quiet_formatter.ts";

export type { ColorPolicy } from "./colors.ts";
export { OUTPUT_MODES } from "./formatter.ts";
export type { Formatter, OutputMode } from "./formatter.ts";
export { writeStderr } from "./cli_formatter.ts";
export { setBrokenPipePolicy, writeStdout } from "./stdout.ts";
export { JsonFloat, jsonSeconds, toSortedJson } from "./json.ts";
export { renderHorizontalTable, renderVerticalTable } from "./table.ts";
export type { Cell } from "./table.ts";

export function createFormatter(mode: OutputMode, colors: ColorPolicy): Formatter {
  switch (mode) {
    case "cli":
      return new CliFormatter(colorsEnabled(colors));
    case "json":
      return new JsonFormatter();
    case "quiet":
      return new QuietFormatter();
  }
}
