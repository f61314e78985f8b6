import type { Message, Reasoning } from './types.js'

/**
 * Copies a message so that neither side can change the other's. Cheaper than
 * `structuredClone`: only `toolCalls`, `reasoning` and `metadata` are nested. `metadata` is
 * copied through JSON, exactly as a Redis round trip would store it, so every
 * store keeps the same thing (values JSON cannot represent are dropped).
 */
export function copyMessage(message: Message): Message {
  const copy: Message = { role: message.role, content: message.content }
  if (message.toolCalls !== undefined) {
    copy.toolCalls = message.toolCalls.map((call) => ({ id: call.id, name: call.name, arguments: call.arguments }))
  }
  if (message.toolCallId !== undefined) copy.toolCallId = message.toolCallId
  if (message.name !== undefined) copy.name = message.name
  if (message.reasoning !== undefined) {
    // Through JSON like `metadata`: `data` is opaque provider data that must round-trip exactly as a store keeps it.
    copy.reasoning = JSON.parse(JSON.stringify(message.reasoning)) as Reasoning
  }
  if (message.metadata !== undefined) copy.metadata = JSON.parse(JSON.stringify(message.metadata)) as Record<string, unknown>
  return copy
}

/** `copyMessage` for each message: what a store hands out must not share objects with what it keeps. */
export function copyMessages(messages: readonly Message[]): Message[] {
  const copies = new Array<Message>(messages.length)
  for (let i = 0; i < messages.length; i++) copies[i] = copyMessage(messages[i] as Message)
  return copies
}

/** Number of leading `system` messages: the part of a view no trimming policy removes. */
export function pinnedCount(messages: readonly Message[]): number {
  let i = 0
  while (i < messages.length && messages[i]?.role === 'system') i++
  return i
}

/**
 * Start indexes of the trimming units of `messages[from..]`, oldest first. A unit
 * is one message, or an assistant message followed by the tool messages that
 * answer it (a tool group). Tool messages at `from` that have no assistant before
 * them form an orphan unit, which a view must not start with.
 */
export function unitStarts(messages: readonly Message[], from = 0): number[] {
  const starts: number[] = []
  for (let i = from; i < messages.length; i++) {
    if (i === from || messages[i]?.role !== 'tool') starts.push(i)
  }
  return starts
}
