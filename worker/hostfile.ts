/**
 * The hostfile of `hq worker deploy-ssh` (spec §4.7): one host per line, trimmed, with an
 * optional `:port`; blank lines are skipped.
 */
import { HqError } from "../common/errors.ts";

export interface SshHost {
  /** What ssh connects to: a name, an address or `user@host`. */
  hostname: string;
  /** From `:port`; otherwise ssh's own default (its config, else 22). */
  port: number | undefined;
  /** The trimmed line, naming the host in messages. */
  line: string;
}

/** The hostfile cannot be read or has a line that is not a host. */
export class HostfileError extends HqError {}

export async function loadHostfile(path: string): Promise<SshHost[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new HostfileError(`Cannot load hostfile from "${path}"`, { cause: error });
  }
  return parseHostfile(text);
}

export function parseHostfile(text: string): SshHost[] {
  const hosts = text.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map(parseHost);
  // HyperQueue's wording for a file without hosts, which it reads as one empty hostname.
  if (hosts.length === 0) throw new HostfileError("The provided hostname is empty");
  return hosts;
}

/** `host`, `host:port`, `user@host:port`, or an IPv6 address in brackets: `[::1]:2222`. */
function parseHost(line: string): SshHost {
  let hostname = line;
  let portText: string | undefined;
  const bracketEnd = line.startsWith("[") ? line.indexOf("]") : -1;
  if (bracketEnd > 0) {
    hostname = line.slice(1, bracketEnd);
    const rest = line.slice(bracketEnd + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) {
        throw new HostfileError(`Cannot parse port from ${line}: expected ":<port>" after "]"`);
      }
      portText = rest.slice(1);
    }
  } else {
    const colon = line.indexOf(":");
    if (colon >= 0) {
      hostname = line.slice(0, colon);
      portText = line.slice(colon + 1);
    }
  }
  const port = portText === undefined ? undefined : parsePort(line, portText);
  if (hostname === "") throw new HostfileError("The provided hostname is empty");
  // ssh would read it as an option (`-oProxyCommand=…`), not as a host.
  if (hostname.startsWith("-")) {
    throw new HostfileError(`Invalid hostname "${hostname}": it must not start with "-"`);
  }
  return { hostname, port, line };
}

function parsePort(line: string, text: string): number {
  if (!/^\d+$/.test(text)) {
    const detail = text === "" ? "the port is empty" : `"${text}" is not a number`;
    throw new HostfileError(`Cannot parse port from ${line}: ${detail}`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new HostfileError(`Cannot parse port from ${line}: the port must be between 1 and 65535`);
  }
  return port;
}
