import type { Message } from '../types.js'
import { nameIn } from './demo-reply.js'

/**
 * The offline demo's summariser (`--summary-after`): a deterministic condensation of
 * what it is sent, the previous summary plus the new messages, as a real summariser
 * would receive them. It keeps the user's name and the first words of each user
 * message, at most 12 of them.
 */
export function demoSummary(messages: Message[]): string {
  const body = messages.at(-1)?.content ?? ''
  const previous = /Previous summary:\n([\s\S]*?)\n\nNew messages:/.exec(body)?.[1] ?? ''
  const lines = /New messages:\n([\s\S]*)\n\nWrite the updated summary\./.exec(body)?.[1]?.split('\n') ?? []
  const said = lines.flatMap((line) => {
    const text = /^user: (.*)$/.exec(line)?.[1]
    return text === undefined ? [] : [text.split(/\s+/).slice(0, 4).join(' ')]
  })
  const name = nameIn(lines.map((line): Message => ({ role: 'user', content: line.replace(/^user: /, '') }))) ?? /The user's name is ([^.]+)\./.exec(previous)?.[1]
  const earlier = /The user said: (.*)$/.exec(previous)?.[1]?.split(' / ') ?? []
  const topics = [...earlier, ...said].slice(-12)
  return `${name === undefined ? '' : `The user's name is ${name}. `}The user said: ${topics.join(' / ')}`
}
