import assert from "node:assert/strict";
import { O_NOFOLLOW, OutputDirectories } from "./output_files.ts";

Deno.test("an output directory is shared when others may write it or another user owns it", () => {
  const dirs: Record<string, { mode: number; uid: number }> = {
    "/home/me/out": { mode: 0o40755, uid: 1000 },
    "/home/me/group": { mode: 0o40775, uid: 1000 },
    "/tmp": { mode: 0o41777, uid: 0 },
    "/home/other": { mode: 0o40755, uid: 1001 },
    "/srv/root": { mode: 0o40755, uid: 0 },
    ".": { mode: 0o40700, uid: 1000 },
  };
  let stats = 0;
  const stat = (path: string) => {
    stats++;
    const dir = dirs[path];
    if (!dir) throw new Deno.errors.NotFound(path);
    return dir as unknown as Deno.FileInfo;
  };
  let now = 0;
  const verdicts = new OutputDirectories(1000, stat, () => now);
  assert.equal(verdicts.openFlags("/home/me/out/1.stdout"), 0);
  assert.equal(verdicts.openFlags("/home/me/group/1.stdout"), O_NOFOLLOW);
  assert.equal(verdicts.openFlags("/tmp/1.stdout"), O_NOFOLLOW);
  assert.equal(verdicts.openFlags("/home/other/1.stdout"), O_NOFOLLOW);
  assert.equal(verdicts.openFlags("/srv/root/1.stdout"), 0); // Root's is trusted.
  assert.equal(verdicts.openFlags("relative.stdout"), 0);
  assert.equal(verdicts.openFlags("/missing/1.stdout"), 0); // The open fails anyway.
  // One stat per directory and second.
  const before = stats;
  assert.equal(verdicts.openFlags("/home/me/out/2.stdout"), 0);
  assert.equal(stats, before);
  dirs["/home/me/out"].mode = 0o40777;
  now = 1_500;
  assert.equal(verdicts.openFlags("/home/me/out/3.stdout"), O_NOFOLLOW);
});
