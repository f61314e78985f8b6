import type { ExecuteResult, StreamChunk } from '../context.js'
import { problemOf } from './problem.js'

/** A comment line every 15 s keeps proxies from closing a stream that waits on a slow model. */
const HEARTBEAT_MS = 15_000

const encoder = new TextEncoder()

/** One Server-Sent Event: `event: <name>` and its JSON on one `data:` line (JSON has no raw newlines). */
export function sseEvent(name: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)
}

/** What a client learns of a finished turn: the reply and its accounting, never the provider view (it holds the system prompt). */
export function turnBody(result: ExecuteResult, id: string): Record<string, unknown> {
  return {
    id,
    message: result.response,
    usage: result.usage ?? null,
    model: result.model ?? null,
    finishReason: result.finishReason ?? null,
    costUsd: result.costUsd ?? null,
    saved: result.saved,
    storedLength: result.storedLength ?? null,
    durationMs: Math.round(result.durationMs),
  }
}

/**
 * The turn as an SSE response body: `delta` events (`{ text }`), then `done` (the
 * turn, as the JSON answer would be), or `error` (a problem details object) if the
 * turn fails midway. The stream is pulled: a client that reads slowly slows the
 * provider down, and one that goes away (the body is cancelled) ends the turn
 * through the generator's `return()`, which aborts it: nothing is stored.
 */
export function sseBody(
  chunks: AsyncGenerator<StreamChunk, void, undefined>,
  id: string,
  onError: (error: unknown) => void,
  abortTurn: () => void,
): ReadableStream<Uint8Array> {
  let heartbeat: ReturnType<typeof setInterval> | undefined
  const stop = () => clearInterval(heartbeat)
  return new ReadableStream<Uint8Array>({
    start(controller) {
      heartbeat = setInterval(() => controller.enqueue(encoder.encode(': keep-alive\n\n')), HEARTBEAT_MS)
      heartbeat.unref?.()
      // Sent at once, so the client knows the turn was accepted before the first token.
      controller.enqueue(encoder.encode(': accepted\n\n'))
    },
    async pull(controller) {
      try {
        const next = await chunks.next()
        if (next.done) {
          stop()
          controller.close()
          return
        }
        const chunk = next.value
        if (chunk.type === 'delta') controller.enqueue(sseEvent('delta', { text: chunk.text }))
        else controller.enqueue(sseEvent('done', turnBody(chunk.result, id)))
      } catch (error) {
        stop()
        const answer = problemOf(error)
        if (answer.unexpected) onError(error)
        controller.enqueue(sseEvent('error', answer.problem))
        controller.close()
      }
    },
    async cancel() {
      stop()
      // `return()` would wait for a pending `next()` (a provider yet to send a token):
      // the turn's own signal stops it now.
      abortTurn()
      await chunks.return(undefined)
    },
  })
}
