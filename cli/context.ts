import type { ColorPolicy, Formatter, OutputMode } from "../common/output/mod.ts";

/** The global options of spec §1, resolved (flag > environment > default). */
export interface GlobalOptions {
  /** Absolute root server directory. */
  serverDir: string;
  outputMode: OutputMode;
  colors: ColorPolicy;
  debug: boolean;
}

/** What every command implementation receives besides its own arguments. */
export interface CliContext {
  globals: GlobalOptions;
  output: Formatter;
}
