import type { Message } from '../types.js'

/** "I'm Alice", "my name is Alice", "call me Alice": the name must be capitalised ("I'm tired" is no name). */
const INTRODUCTION = /\b(?:I am|I'm|I’m|[Mm]y name is|[Cc]all me)\s+(\p{Lu}[\p{L}'-]*)/u
/** How this demo's own replies mention the name, so it "remembers" what it said too. */
const ACKNOWLEDGED = /^(?:Nice to meet you, |Your name is )([\p{Lu}][\p{L}'-]*)/u
/** How the demo summariser (`--summary-after`) keeps the name. */
const SUMMARISED = /The user's name is (\p{Lu}[\p{L}'-]*)\./u
const NAME_QUESTION = /\b(?:what(?:'s| is) my name|who am i)\b/i
const RECALL_QUESTION = /\bwhat did i (?:just )?say\b/i

/** The name the user gave most recently in `messages` (the provider view), if any. */
export function nameIn(messages: readonly Message[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as Message
    const pattern =
      message.role === 'user' ? INTRODUCTION : message.role === 'assistant' ? ACKNOWLEDGED : message.metadata?.summary !== undefined ? SUMMARISED : undefined
    const match = pattern?.exec(message.content)
    if (match?.[1] !== undefined) return match[1]
  }
  return undefined
}

/**
 * The offline demo's "model": it answers from the provider view alone, exactly as a
 * real model would, so what it remembers is what the pipeline sent it. Ask it your
 * name after introducing yourself, then shrink `--max-messages` and watch it forget.
 */
export function demoReply(messages: Message[]): string {
  const input = messages.at(-1)
  const text = input?.content.trim() ?? ''
  const earlier = messages.slice(0, -1).filter((m) => m.role === 'user' || m.role === 'assistant').length
  const name = nameIn(messages)

  if (NAME_QUESTION.test(text)) {
    return name === undefined
      ? `I don't know your name: it is not in the ${earlier} earlier message(s) I can see. Tell me with "I'm …".`
      : `Your name is ${name}.`
  }
  const introduced = INTRODUCTION.exec(text)?.[1]
  if (introduced !== undefined) return `Nice to meet you, ${introduced}! I'll remember that.`
  if (RECALL_QUESTION.test(text)) {
    const previous = messages.slice(0, -1).findLast((m) => m.role === 'user')
    return previous === undefined ? 'You have not said anything else that I can see.' : `You said: "${previous.content}"`
  }
  const who = name === undefined ? '' : `, ${name}`
  return `You said "${text}"${who}. I can see ${earlier} earlier message(s) of this conversation.`
}
