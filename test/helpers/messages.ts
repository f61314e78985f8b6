/**
 * Message builders the test files share. Every call returns a fresh object, so a
 * test may mutate what it passed or got back.
 */
import type { Message } from '../../src/types.js'

/** A user message; `extra` adds the other fields (`name`, `metadata`, …). */
export const user = (content: string, extra: Omit<Message, 'role' | 'content'> = {}): Message => ({ role: 'user', content, ...extra })

export const assistant = (content: string): Message => ({ role: 'assistant', content })

/** The user messages `m<from>` to `m<to>`, both included. */
export function numbered(from: number, to: number): Message[] {
  const messages: Message[] = []
  for (let i = from; i <= to; i++) messages.push(user(`m${i}`))
  return messages
}
