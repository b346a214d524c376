/**
 * TOML for job files (resources spec §9), the one place smol-toml is imported. Chosen over
 * @iarna/toml: a 100,000-task job file (6.4 MB) parses in 0.41–0.76 s against 0.78–0.95 s
 * (bench/README.md, "Job files").
 */
import { parse, TomlError } from "smol-toml";
import { HqError } from "../common/errors.ts";

/** The TOML text does not parse. */
export class TomlSyntaxError extends HqError {}

export function parseToml(text: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      throw new TomlSyntaxError(`TOML parse error: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
