/** Resources a test file or `describe` shares: made once before its tests, disposed of after them. */
import { afterAll, beforeAll } from 'vitest'

/**
 * Registers, in the enclosing test file or `describe`, a `beforeAll` that makes a
 * resource with `start` and an `afterAll` that disposes of it with `stop`. Returns
 * a getter for it, which throws when read before `beforeAll` has run (read it in
 * tests and hooks, not while the suite is being collected). `helper` names the
 * caller in that error.
 */
export function suiteResource<T>(helper: string, start: () => Promise<T>, stop: (resource: T) => Promise<void>): () => T {
  let started: { resource: T } | undefined
  beforeAll(async () => {
    started = { resource: await start() }
  })
  afterAll(async () => {
    if (started !== undefined) await stop(started.resource)
  })
  return () => {
    if (started === undefined) throw new Error(`${helper}: not started yet; it starts in beforeAll, so use it in a test or a hook`)
    return started.resource
  }
}
