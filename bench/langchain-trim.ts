/**
 * LangChain.js `trimMessages` (`strategy: 'last'`, a token counter over
 * gpt-tokenizer with a per-content cache, as fair a counter as one can give it)
 * against promptline's `token-truncation` on the same history and budget: a
 * system prompt and `length` messages, 8,000 tokens.
 */
import { trimMessages, AIMessage, HumanMessage, SystemMessage, type BaseMessage } from '@langchain/core/messages'
import { encodeChat } from 'gpt-tokenizer/model/gpt-4o'
import { tokenTruncation } from '../middleware/token-truncation.js'
import { fakeContext } from '../test/helpers/fake-context.js'
import type { Message } from '../src/types.js'
import { median } from './redis-stats.js'
import type { Row } from './redis-scale.js'
import { history } from './turns.js'

const MAX_TOKENS = 8_000
const SYSTEM = 'You are a helpful assistant.'

const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`)

export async function langchainTrimRows(length: number, rounds: number): Promise<Row[]> {
  const messages: Message[] = [{ role: 'system', content: SYSTEM }, ...history(length)]
  const asLangchain: BaseMessage[] = messages.map((m) =>
    m.role === 'system' ? new SystemMessage(SYSTEM) : m.role === 'user' ? new HumanMessage(m.content as string) : new AIMessage(m.content as string),
  )
  // gpt-tokenizer's chat framing, one message at a time, cached by role and content;
  // the reply's priming tokens (what `encodeChat` of no message gives) counted once per list.
  const priming = encodeChat([], 'gpt-4o').length
  const cache = new Map<string, number>()
  const count = (message: BaseMessage): number => {
    const role = message.getType() === 'human' ? 'user' : message.getType() === 'ai' ? 'assistant' : 'system'
    const content = message.content as string
    const key = `${role}\u0000${content}`
    let tokens = cache.get(key)
    if (tokens === undefined) {
      tokens = encodeChat([{ role, content }], 'gpt-4o').length - priming
      cache.set(key, tokens)
    }
    return tokens
  }
  const tokenCounter = (list: BaseMessage[]): number => {
    let total = priming
    for (const message of list) total += count(message)
    return total
  }
  const theirs = () => trimMessages(asLangchain, { maxTokens: MAX_TOKENS, strategy: 'last', tokenCounter, includeSystem: true, startOn: 'human' })

  const truncate = tokenTruncation({ maxTokens: MAX_TOKENS, model: 'gpt-4o' })
  let kept = 0
  const ours = async () => {
    const ctx = fakeContext(messages.slice())
    await truncate(ctx, async () => {
      kept = ctx.messages.length
    })
  }
  // Both counters warm (every message counted once) before any timed call. LangChain's
  // trim calls its counter on every shorter prefix of the history (quadratic): one call
  // at 10,000 messages takes seconds, so it runs once per round.
  tokenCounter(asLangchain)
  await ours()
  let keptTheirs = 0
  const timesTheirs: number[] = []
  const timesOurs: number[] = []
  for (let round = 0; round < rounds; round++) {
    let started = performance.now()
    keptTheirs = (await theirs()).length
    timesTheirs.push((performance.now() - started) * 1000)
    // Ours is fast enough to need many calls for a stable figure.
    const calls = 20
    started = performance.now()
    for (let i = 0; i < calls; i++) await ours()
    timesOurs.push(((performance.now() - started) * 1000) / calls)
  }
  const [a, b] = [median(timesTheirs), median(timesOurs)]
  return [
    [`LangChain trimMessages (strategy 'last', cached gpt-tokenizer counter), ${MAX_TOKENS} tokens: keeps ${keptTheirs}`, String(length), fmt(a), `${(a / b).toFixed(0)}× of promptline`],
    [`promptline token-truncation, same view and budget: keeps ${kept}`, String(length), fmt(b), '1.00×'],
  ]
}
