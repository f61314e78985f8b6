import type { ExecutionContext } from './context.js'

/** Work a middleware leaves for after its turn, by turn. */
const jobs = new WeakMap<ExecutionContext, Array<() => Promise<void>>>()

/**
 * Runs `job` after the turn has settled successfully, in the session's queue of the
 * pipeline that ran it (after the turns already queued, before later ones), without
 * delaying the turn's result; `shutdown()` waits for it. `job` must not reject.
 * Outside a `Pipeline` (a middleware run on its own), the job never runs.
 */
export function deferAfterTurn(ctx: ExecutionContext, job: () => Promise<void>): void {
  const list = jobs.get(ctx)
  if (list === undefined) jobs.set(ctx, [job])
  else list.push(job)
}

/** The jobs a turn left, once (the pipeline takes them when the turn succeeded). */
export function takeAfterTurn(ctx: ExecutionContext): Array<() => Promise<void>> | undefined {
  const list = jobs.get(ctx)
  jobs.delete(ctx)
  return list
}
