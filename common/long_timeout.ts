/**
 * Timers for durations of any length. `setTimeout` and `setInterval` take at most 2^31-1 ms
 * (~24.8 days); a longer delay wraps around and fires at once, so a 30-day `--time-limit` would
 * end a task or a worker right after it started.
 */

/** Longest delay a runtime timer takes as given. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A one-shot timer of any length, made of chained runtime timers. */
export class LongTimeout {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cleared = false;

  /** Calls `callback` once `delayMs` have passed, unless `clear()` is called first. */
  constructor(private readonly callback: () => void, delayMs: number) {
    this.#arm(performance.now() + Math.max(0, delayMs));
  }

  clear(): void {
    this.#cleared = true;
    clearTimeout(this.#timer);
  }

  #arm(endMs: number): void {
    if (this.#cleared) return;
    const leftMs = endMs - performance.now();
    this.#timer = leftMs > MAX_TIMER_MS
      ? setTimeout(() => this.#arm(endMs), MAX_TIMER_MS)
      : setTimeout(this.callback, Math.max(0, leftMs));
  }
}

/** A period for `setInterval`: at most `MAX_TIMER_MS`, so that it never wraps to 1 ms. */
export function timerPeriodMs(periodMs: number): number {
  return Math.min(Math.max(1, periodMs), MAX_TIMER_MS);
}
