/**
 * Long synchronous work that yields to the event loop every few milliseconds, so
 * timers, I/O and other sessions' turns keep running while one turn counts a
 * megabyte of text.
 */

// Node's own setImmediate, not the global one: a test suite with fake timers must not
// leave a turn waiting for an immediate that never runs.
import { setImmediate } from 'node:timers'

/** Synchronous work allowed before `pace` yields to the event loop. */
export const PACE_SLICE_MS = 2

// When the current stretch of paced work began (-1: none since the event loop last turned).
let stretchStarted = -1

function endStretch(): void {
  stretchStarted = -1
}

/**
 * Call between bounded steps of long work: returns `undefined` while the current
 * stretch is under `PACE_SLICE_MS`, else a promise that resolves on the event
 * loop's next turn. The stretch is process-wide, so concurrent callers share it:
 * what matters is how long the loop was held, not by whom.
 */
export function pace(signal?: AbortSignal): Promise<void> | undefined {
  signal?.throwIfAborted()
  const now = performance.now()
  if (stretchStarted < 0) {
    stretchStarted = now
    // Runs once the loop turns, however this stretch ends.
    setImmediate(endStretch)
    return undefined
  }
  if (now - stretchStarted < PACE_SLICE_MS) return undefined
  return new Promise((resolve) => setImmediate(resolve))
}
