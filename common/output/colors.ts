/** ANSI styling for the `cli` formatter. Applied only when the colour policy allows it. */

export type ColorPolicy = "auto" | "always" | "never";
export type Color = "red" | "green" | "yellow" | "blue" | "magenta" | "cyan";

const COLOR_CODES: Record<Color, number> = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
};

/** `auto` colours only when stdout is a terminal. */
export function colorsEnabled(policy: ColorPolicy): boolean {
  if (policy === "always") return true;
  if (policy === "never") return false;
  return Deno.stdout.isTerminal();
}

export function paint(text: string, color: Color): string {
  return `\x1b[${COLOR_CODES[color]}m${text}\x1b[39m`;
}

export function bold(text: string): string {
  return `\x1b[1m${text}\x1b[22m`;
}
