/**
 * Help text in clap's layout. `-h` leaves the global options out; `--help` lists them under a
 * "GLOBAL OPTIONS" heading (spec §1).
 */
import { type ArgSpec, type Command, displayName, longName } from "./args.ts";

export function renderHelp<C>(path: Command<C>[], long: boolean): string {
  const command = path[path.length - 1];
  const root = path[0];
  const commandPath = path.map((c) => c.name).join(" ");
  const own = Object.entries(command.args).filter(([, arg]) => !arg.global && !arg.hidden);
  const positionals = own.filter(([, arg]) => arg.kind === "positional");
  const options = own.filter(([, arg]) => arg.kind !== "positional");
  const globals = Object.entries(root.args).filter(([, arg]) => arg.global && !arg.hidden);

  const usage = [`Usage: ${commandPath}`];
  if (options.length > 0 || command === root || command.subcommands.length === 0) {
    usage.push("[OPTIONS]");
  }
  for (const [key, arg] of options) if (arg.required) usage.push(displayName(key, arg));
  if (command.subcommands.length > 0) usage.push("<COMMAND>");
  for (const [key, arg] of positionals) usage.push(displayName(key, arg));

  const sections: string[] = [command.about, usage.join(" ")];
  const subcommands = command.subcommands.filter((s) => !s.hidden);
  if (subcommands.length > 0) {
    sections.push(`Commands:\n${columns(subcommands.map((s) => [s.name, s.about]))}`);
  }
  if (positionals.length > 0) {
    sections.push(
      `Arguments:\n${
        columns(positionals.map(([key, arg]) => [displayName(key, arg), describe(arg)]))
      }`,
    );
  }
  const optionRows = options.map(([key, arg]) => [signature(key, arg), describe(arg)]);
  optionRows.push(["-h, --help", long ? "Print help" : "Print help (see more with '--help')"]);
  if (command === root) optionRows.push(["-V, --version", "Print version"]);
  sections.push(`Options:\n${columns(optionRows)}`);
  if (long && globals.length > 0) {
    const rows = globals.map(([key, arg]) => [signature(key, arg), describe(arg)]);
    sections.push(`GLOBAL OPTIONS:\n${columns(rows)}`);
  }
  return sections.join("\n\n") + "\n";
}

function signature(key: string, arg: ArgSpec<unknown>): string {
  if (arg.shortOnly) return `-${arg.short}...`;
  const short = arg.short ? `-${arg.short}, ` : "    ";
  const name = displayName(key, arg);
  return `${short}${arg.kind === "flag" ? `--${longName(key, arg)}` : name}`;
}

function describe(arg: ArgSpec<unknown>): string {
  const notes: string[] = [];
  if (arg.env) notes.push(`[env: ${arg.env}=]`);
  if (arg.defaultText !== undefined) notes.push(`[default: ${arg.defaultText}]`);
  if (arg.possibleValues) notes.push(`[possible values: ${arg.possibleValues.join(", ")}]`);
  return [arg.help, ...notes].join(" ");
}

function columns(rows: string[][]): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd()).join("\n");
}
