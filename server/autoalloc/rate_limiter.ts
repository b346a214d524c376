/**
 * A queue's submission rate limiter (journal-alloc spec §2.11): a delay ladder that climbs with
 * failed submissions and failed allocations, and the counters that auto-pause the queue.
 */

/** Delays between submission attempts, by level. */
export const DEFAULT_SUBMIT_DELAYS_MS: readonly number[] = [
  0,
  60_000,
  15 * 60_000,
  30 * 60_000,
  60 * 60_000,
];

export interface RateLimiterOptions {
  /** @default {DEFAULT_SUBMIT_DELAYS_MS} */
  delaysMs?: readonly number[];
  /** Failed allocations in a row that pause the queue. @default {3} */
  maxAllocationFails?: number;
  /** Failed submissions in a row that pause the queue. @default {10} */
  maxSubmissionFails?: number;
}

export class RateLimiter {
  readonly #delaysMs: readonly number[];
  readonly maxAllocationFails: number;
  readonly maxSubmissionFails: number;
  #level = 0;
  submissionFails = 0;
  allocationFails = 0;
  /** When the last submission was attempted, or null. */
  lastAttemptMs: number | null = null;

  constructor(options: RateLimiterOptions = {}) {
    this.#delaysMs = options.delaysMs ?? DEFAULT_SUBMIT_DELAYS_MS;
    this.maxAllocationFails = options.maxAllocationFails ?? 3;
    this.maxSubmissionFails = options.maxSubmissionFails ?? 10;
  }

  /** The earliest time a submission may be attempted (null: at once). */
  nextAllowedMs(): number | null {
    if (this.lastAttemptMs === null) return null;
    const delay = this.#delaysMs[this.#level] ?? 0;
    return delay === 0 ? null : this.lastAttemptMs + delay;
  }

  canSubmit(nowMs: number): boolean {
    const next = this.nextAllowedMs();
    return next === null || nowMs >= next;
  }

  attempted(nowMs: number): void {
    this.lastAttemptMs = nowMs;
  }

  submissionFailed(): void {
    this.submissionFails++;
    this.#levelUp();
  }

  submissionSucceeded(): void {
    this.submissionFails = 0;
    if (this.allocationFails === 0) this.#level = 0;
  }

  allocationFailed(): void {
    this.allocationFails++;
    this.#levelUp();
  }

  allocationSucceeded(): void {
    this.allocationFails = 0;
    this.#level = 0;
  }

  /** Why the queue should pause now, or null. */
  pauseReason(): string | null {
    if (this.allocationFails >= this.maxAllocationFails) {
      return `${this.allocationFails} allocations in a row failed`;
    }
    if (this.submissionFails >= this.maxSubmissionFails) {
      return `${this.submissionFails} submissions in a row failed`;
    }
    return null;
  }

  /** Back to a fresh state (ours: `hq alloc resume` clears the counters, see the README). */
  reset(): void {
    this.#level = 0;
    this.submissionFails = 0;
    this.allocationFails = 0;
    this.lastAttemptMs = null;
  }

  #levelUp(): void {
    this.#level = Math.min(this.#level + 1, this.#delaysMs.length - 1);
  }
}
