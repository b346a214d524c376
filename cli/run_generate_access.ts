import {
  type AccessRecord,
  generateSecretKey,
  generateServerUid,
  splitAccessRecord,
  writeAccessRecord,
} from "../common/access_record.ts";
import { HqError } from "../common/errors.ts";
import { resolvePath } from "../common/paths.ts";
import { HQ_VERSION } from "../common/version.ts";
import type { CliContext } from "./context.ts";
import type { GenerateAccessArgs } from "./server_commands.ts";

/** `hq server generate-access`: writes a full record (and optional split files), mode 0400. */
export async function runGenerateAccess(
  args: GenerateAccessArgs,
  _context: CliContext,
): Promise<void> {
  const host = args.host ?? Deno.hostname();
  const record: AccessRecord = {
    version: HQ_VERSION,
    serverUid: generateServerUid(),
    client: {
      host: args.clientHost ?? host,
      port: args.clientPort,
      secretKey: generateSecretKey(),
    },
    worker: {
      host: args.workerHost ?? host,
      port: args.workerPort,
      secretKey: generateSecretKey(),
    },
  };
  const cwd = Deno.cwd();
  const targets: Array<[string, AccessRecord]> = [[resolvePath(cwd, args.accessFile), record]];
  if (args.clientFile) {
    targets.push([resolvePath(cwd, args.clientFile), splitAccessRecord(record, "client")]);
  }
  if (args.workerFile) {
    targets.push([resolvePath(cwd, args.workerFile), splitAccessRecord(record, "worker")]);
  }
  // Refuse before writing anything, so a clash does not leave half of a key set behind.
  for (const [path] of targets) {
    if (await exists(path)) {
      throw new HqError(`Cannot write access file "${path}": the file already exists`);
    }
  }
  for (const [path, content] of targets) await writeAccessRecord(path, content);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
