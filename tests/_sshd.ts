/**
 * A real OpenSSH server for the deploy-ssh tests: `sshd -D -e` on free 127.0.0.1 ports, with its
 * own host key, user key, `authorized_keys` and config in a temporary directory, and an `ssh`
 * wrapper (first on PATH) that makes the client use a matching config with `-F`. ssh reads
 * `~/.ssh/config` from the passwd home, not `$HOME`, so a wrapper is the way to point it elsewhere
 * without touching the system's files. Nothing of /etc/ssh or ~/.ssh is read or written.
 */
import { joinPath } from "../common/paths.ts";
import { waitUntil } from "./harness.ts";

const SSHD_CANDIDATES = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"];
/** sshd (as root) refuses to start without its privilege separation directory. */
const PRIVSEP_DIR = "/run/sshd";

/** An extra listening port whose sessions differ from the main port's (sshd `Match LocalPort`). */
export interface SshdPortOptions {
  /** Run this instead of the requested command (`ForceCommand`). */
  forceCommand?: string;
  /** Variables of this port's sessions, over the common ones. */
  env?: Record<string, string>;
}

export interface SshdOptions {
  /** Variables every session gets (`SetEnv`): a session's environment is sshd's, not ours. */
  env?: Record<string, string>;
  /** Extra ports, in this order in `TestSshd.extraPorts`. */
  extraPorts?: SshdPortOptions[];
}

/** Why these tests cannot run here, or undefined when they can. */
export function sshdUnavailable(): string | undefined {
  if (findSshd() === undefined) {
    return "no sshd (install openssh-server; .ci/run does when it is missing)";
  }
  if (findOnPath("ssh") === undefined || findOnPath("ssh-keygen") === undefined) {
    return "no ssh or ssh-keygen on PATH (install openssh-client)";
  }
  if (Deno.uid() !== 0) return "sshd is started as root (to log in as root with a test key)";
  return undefined;
}

export class TestSshd implements AsyncDisposable {
  #exited = false;

  private constructor(
    readonly dir: string,
    readonly child: Deno.ChildProcess,
    /** The port of the client config: hosts without `:port` connect here. */
    readonly port: number,
    readonly extraPorts: number[],
    readonly logFile: string,
  ) {
    child.status.then(() => this.#exited = true);
  }

  static async start(options: SshdOptions = {}): Promise<TestSshd> {
    const sshd = findSshd();
    const ssh = findOnPath("ssh");
    if (sshd === undefined || ssh === undefined) throw new Error(sshdUnavailable());
    await Deno.mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    const dir = await Deno.makeTempDir({ prefix: "hq-sshd-" });
    const at = (name: string) => joinPath(dir, name);
    await keygen(at("host_key"));
    await keygen(at("user_key"));
    await Deno.copyFile(at("user_key.pub"), at("authorized_keys"));

    const [port, ...extraPorts] = await freePorts(1 + (options.extraPorts?.length ?? 0));
    const setEnv = (env: Record<string, string>) =>
      `SetEnv ${Object.entries(env).map(([key, value]) => `"${key}=${value}"`).join(" ")}`;
    const common = { ...denoEnv(), ...options.env };
    const config = [
      ...[port, ...extraPorts].map((p) => `ListenAddress 127.0.0.1:${p}`),
      `HostKey ${at("host_key")}`,
      `PidFile ${at("sshd.pid")}`,
      `AuthorizedKeysFile ${at("authorized_keys")}`,
      "StrictModes no",
      "UsePAM no",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PrintMotd no",
      "PrintLastLog no",
      "UseDNS no",
      ...(Object.keys(common).length > 0 ? [setEnv(common)] : []),
      ...(options.extraPorts ?? []).flatMap((extra, i) => [
        `Match LocalPort ${extraPorts[i]}`,
        ...(extra.env ? [`  ${setEnv({ ...common, ...extra.env })}`] : []),
        ...(extra.forceCommand ? [`  ForceCommand ${extra.forceCommand}`] : []),
      ]),
    ];
    await Deno.writeTextFile(at("sshd_config"), config.join("\n") + "\n");
    await Deno.writeTextFile(
      at("ssh_config"),
      [
        "Host *",
        `  Port ${port}`,
        `  IdentityFile ${at("user_key")}`,
        "  IdentitiesOnly yes",
        "  UserKnownHostsFile /dev/null",
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking no",
        "  BatchMode yes",
        "  LogLevel ERROR",
        "  ConnectTimeout 10",
      ].join("\n") + "\n",
    );
    await Deno.mkdir(at("bin"));
    await Deno.writeTextFile(
      at("bin/ssh"),
      `#!/bin/sh\nexec '${ssh}' -F '${at("ssh_config")}' "$@"\n`,
      { mode: 0o755 },
    );

    const logFile = at("sshd.log");
    const log = await Deno.open(logFile, { write: true, create: true });
    const child = new Deno.Command(sshd, {
      args: ["-f", at("sshd_config"), "-D", "-e"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    child.stderr.pipeTo(log.writable).catch(() => {});
    const server = new TestSshd(dir, child, port, extraPorts, logFile);
    try {
      for (const p of [port, ...extraPorts]) {
        await waitUntil(async () => {
          if (server.#exited) {
            throw new Error(`sshd exited early:\n${await Deno.readTextFile(logFile)}`);
          }
          try {
            (await Deno.connect({ hostname: "127.0.0.1", port: p })).close();
            return true;
          } catch {
            return false;
          }
        }, { timeoutMs: 10_000, what: `sshd to listen on port ${p}` });
      }
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw error;
    }
    return server;
  }

  /** PATH with the `ssh` wrapper first. */
  get path(): string {
    return `${joinPath(this.dir, "bin")}:${Deno.env.get("PATH") ?? ""}`;
  }

  /** Every process under sshd: its sessions, their shells and what those run. */
  sessionPids(): number[] {
    return descendantsOf(this.child.pid);
  }

  /** The sshd's log (`-e`): connections, logins, errors. */
  log(): string {
    return Deno.readTextFileSync(this.logFile);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Sessions first (they outlive the listener), then ssh clients still using this config.
    for (const pid of [...this.sessionPids(), ...pidsWithArgument(this.dir)]) {
      if (pid !== this.child.pid) killQuietly(pid, "SIGKILL");
    }
    if (!this.#exited) this.child.kill("SIGTERM");
    const timer = setTimeout(() => killQuietly(this.child.pid, "SIGKILL"), 5_000);
    await this.child.status;
    clearTimeout(timer);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Whether `pid` is a live process (not gone, not a zombie waiting for its parent). */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Live descendants of `root` (children, grandchildren, …), from /proc. */
export function descendantsOf(root: number): number[] {
  const childrenByParent = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      const parent = Number(fields[1]);
      childrenByParent.set(parent, [...(childrenByParent.get(parent) ?? []), Number(entry.name)]);
    } catch {
      // Ended while we looked.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of childrenByParent.get(queue.pop()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Live processes with an argument containing `text` (ssh clients using a config in our dir). */
function pidsWithArgument(text: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(text) && isAlive(Number(entry.name))) pids.push(Number(entry.name));
    } catch {
      // Ended while we looked.
    }
  }
  return pids;
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

async function keygen(path: string): Promise<void> {
  const output = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-f", path],
    stdin: "null",
  }).output();
  if (!output.success) {
    throw new Error(`ssh-keygen failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** Ports that were free a moment ago (bound, read and released at once). */
async function freePorts(count: number): Promise<number[]> {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((listener) => (listener.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  await Promise.resolve();
  return ports;
}

/** A port nothing listens on (connections are refused). */
export async function closedPort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** Where the remote deno finds its cache, when the tests were given one. */
function denoEnv(): Record<string, string> {
  const dir = Deno.env.get("DENO_DIR");
  return dir === undefined ? {} : { DENO_DIR: dir };
}

function findSshd(): string | undefined {
  return findOnPath("sshd") ?? SSHD_CANDIDATES.find((path) => isExecutable(path));
}

function findOnPath(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir !== "" && isExecutable(joinPath(dir, name))) return joinPath(dir, name);
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
