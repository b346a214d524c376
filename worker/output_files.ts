/**
 * Where a task's output file may be a pre-planted symlink (issue 15): in a shared directory
 * (writable by group or others, or belonging to another user) someone else could have put a link
 * at the output path, so it is opened with O_NOFOLLOW there and the task fails instead of writing
 * through the link. In the user's own directories links are followed, as users make them.
 */
import { dirname } from "../common/paths.ts";

export const O_NOFOLLOW = 0o400000;

/** How long a directory's verdict is reused (a stat per task and file otherwise). */
const CACHE_MS = 1_000;
const CACHE_ENTRIES = 256;

export class OutputDirectories {
  readonly #verdicts = new Map<string, { shared: boolean; atMs: number }>();

  constructor(
    private readonly uid: number | null = ownUid(),
    private readonly stat: (path: string) => Deno.FileInfo = Deno.statSync,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** Whether `path`'s directory is shared (relative paths are the worker's, as for the open). */
  isShared(path: string): boolean {
    const dir = dirname(path);
    const now = this.now();
    const cached = this.#verdicts.get(dir);
    if (cached && now - cached.atMs < CACHE_MS) return cached.shared;
    let shared: boolean;
    try {
      const info = this.stat(dir);
      // Root's own directories are trusted, as ssh's StrictModes does.
      const owner = info.uid;
      shared = ((info.mode ?? 0) & 0o022) !== 0 ||
        (this.uid !== null && owner !== this.uid && owner !== 0);
    } catch {
      shared = false; // No directory: the open fails anyway.
    }
    if (this.#verdicts.size >= CACHE_ENTRIES) this.#verdicts.clear();
    this.#verdicts.set(dir, { shared, atMs: now });
    return shared;
  }

  /** The extra open flag for an output file at `path`. */
  openFlags(path: string): number {
    return this.isShared(path) ? O_NOFOLLOW : 0;
  }
}

function ownUid(): number | null {
  try {
    return Deno.uid();
  } catch {
    return null; // No permission to ask: only the mode bits tell.
  }
}
