/**
 * The turn every benchmark row runs, and the raw Redis floor it is compared with,
 * shared by bench/run.ts and the worker processes of bench/redis-worker.ts.
 */
import type { Redis } from 'ioredis'
import { Pipeline, type PipelineOptions } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import type { Message, StateStore } from '../src/types.js'

export const WINDOW = 20
export const REPLY = 'Sure. Here is a short, friendly answer that is about as long as a typical chat reply.'

export function history(length: number): Message[] {
  const messages: Message[] = []
  for (let i = 0; i < length; i++) {
    messages.push(
      i % 2 === 0
        ? { role: 'user', content: `Question ${i}: could you explain how the pipeline keeps state between turns?` }
        : { role: 'assistant', content: `Answer ${i}: ${REPLY}` },
    )
  }
  return messages
}

/** The default stack with a system prompt, a 20-message window and a token limit. */
export function pipelineOn(store: StateStore, options: Partial<PipelineOptions> = {}): Pipeline {
  return new Pipeline({
    provider: new MockProvider({ reply: REPLY, model: 'gpt-4o-mini' }),
    store,
    systemPrompt: 'You are a helpful assistant.',
    contextWindow: { maxMessages: WINDOW },
    tokenLimit: { maxTokens: 8_000, model: 'gpt-4o' },
    ...options,
  })
}

/**
 * The floor of a Redis-backed turn: the two round trips any such turn needs (read
 * the window's tail, push the new pair), with no checks at all.
 */
export async function rawTurn(client: Redis, key: string, i: number): Promise<void> {
  const tail = await client.lrange(key, -WINDOW, -1)
  for (const entry of tail) JSON.parse(entry)
  await client.rpush(key, JSON.stringify({ role: 'user', content: `q${i}` }), JSON.stringify({ role: 'assistant', content: REPLY }))
}

/** The commands `rawTurn` sends (for `INFO commandstats`). */
export const RAW_COMMANDS = ['lrange', 'rpush'] as const
