/** `hq doc` and `hq generate-completion` (journal-alloc spec §5): neither needs a server. */
import { HqError } from "../common/errors.ts";
import { writeStderr, writeStdout } from "../common/output/mod.ts";
import { HQ_VERSION } from "../common/version.ts";
import { rootCommand } from "./commands.ts";
import { renderCompletion } from "./completion.ts";
import type { CliContext } from "./context.ts";
import { DOC_TOPICS, type DocArgs, type Shell } from "./misc_commands.ts";

const DOC_ROOT = "https://it4innovations.github.io/hyperqueue";

/** The documentation URL of `topic` (or of the version root) for the version we report. */
export function docUrl(topic: string | undefined): string {
  const base = `${DOC_ROOT}/${HQ_VERSION}/`;
  if (topic === undefined) return base;
  const entry = DOC_TOPICS.find((candidate) => candidate.names.includes(topic));
  if (!entry) throw new HqError(`Unknown documentation topic "${topic}"`);
  return base + entry.path;
}

/** `hq doc [--open] [TOPIC]`: the URL on stdout in every output mode, or opened in a browser. */
export async function runDoc(args: DocArgs, _context: CliContext): Promise<void> {
  const url = docUrl(args.topic);
  if (!args.open) {
    writeStdout(`${url}\n`);
    return;
  }
  await openInBrowser(url);
}

/** Opens `url` with the desktop's opener (`xdg-open`, macOS `open`). */
export async function openInBrowser(url: string): Promise<void> {
  const opener = Deno.build.os === "darwin" ? "open" : "xdg-open";
  let status: Deno.CommandStatus;
  try {
    const child = new Deno.Command(opener, {
      args: [url],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    status = await child.status;
  } catch (error) {
    throw new HqError(`Cannot open ${url}: \`${opener}\` cannot be run`, { cause: error });
  }
  if (!status.success) {
    throw new HqError(`Cannot open ${url}: \`${opener}\` exited with code ${status.code}`);
  }
}

/** `hq generate-completion <SHELL>`: the script on stdout in every output mode. */
export function runGenerateCompletion(shell: Shell, _context: CliContext): Promise<void> {
  writeStderr(`Generating completion file for ${shell}...\n`);
  writeStdout(renderCompletion(shell, rootCommand));
  return Promise.resolve();
}
