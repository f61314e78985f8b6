/**
 * fast-check arbitraries of conversations (pinned system prompt, user and
 * assistant messages, well-formed tool groups) and an independent oracle of what
 * a trimming policy must keep, for the trimming property tests.
 */
import fc from 'fast-check'
import type { Message, ToolCall } from '../../src/types.js'

/** Message text: mostly words (so token counts vary), sometimes arbitrary unicode. */
export const textArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom('the', 'weather', 'in', 'Paris', 'is', 'sunny', '42', 'tokens', '!', '\n', 'émoji 😀'), { maxLength: 24 }).map((w) => w.join(' ')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
)

type UnitSpec =
  | { kind: 'user' | 'assistant'; content: string }
  | { kind: 'tools'; content: string; calls: Array<{ name: string; args: string; result: string }> }

export const callArb = fc.record({
  name: fc.constantFrom('search', 'get_weather', 'calculator'),
  args: textArb.map((t) => JSON.stringify({ q: t })),
  result: textArb,
})

export const unitSpecArb: fc.Arbitrary<UnitSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('user' as const), content: textArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('assistant' as const), content: textArb }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tools' as const), content: textArb, calls: fc.array(callArb, { minLength: 1, maxLength: 3 }) }),
  },
)

/** Builds messages from unit specs; tool call ids are unique per conversation. */
export function buildUnits(specs: readonly UnitSpec[], idPrefix = 'call'): Message[][] {
  return specs.map((spec, u) => {
    if (spec.kind !== 'tools') return [{ role: spec.kind, content: spec.content }]
    const toolCalls: ToolCall[] = spec.calls.map((call, k) => ({ id: `${idPrefix}_${u}_${k}`, name: call.name, arguments: call.args }))
    const assistant: Message = { role: 'assistant', content: spec.content, toolCalls }
    const results: Message[] = spec.calls.map((call, k) => ({ role: 'tool', content: call.result, toolCallId: `${idPrefix}_${u}_${k}` }))
    return [assistant, ...results]
  })
}

export interface Conversation {
  /** Leading system messages (the pinned part); possibly empty. */
  pinned: Message[]
  /** Everything after the pinned part, oldest first; the last one is the newest. Never empty. */
  history: Message[]
}

export interface ConversationArbOptions {
  maxUnits?: number
  /**
   * Also cut the front of the history (as a loaded tail would), so it may start
   * with orphan tool messages.
   */
  cutFront?: boolean
}

/**
 * Conversations with 0–2 pinned system messages and 1–`maxUnits` units. When the
 * newest unit is a tool group, some of its results may be missing (the turn is in
 * the middle of answering the calls).
 */
export function conversationArb(options: ConversationArbOptions = {}): fc.Arbitrary<Conversation> {
  const { maxUnits = 16, cutFront = false } = options
  return fc
    .record({
      system: fc.array(textArb.filter((t) => t.length > 0), { maxLength: 2 }),
      units: fc.array(unitSpecArb, { minLength: 1, maxLength: maxUnits }),
      missingResults: fc.nat({ max: 3 }),
      cut: cutFront ? fc.nat({ max: 6 }) : fc.constant(0),
    })
    .map(({ system, units, missingResults, cut }) => {
      const built = buildUnits(units)
      const allMessages = built.flat()
      const last = built.at(-1) as Message[]
      const missing = last.length > 1 ? Math.min(missingResults, last.length - 1) : 0
      let history = allMessages.slice(0, allMessages.length - missing)
      // Never cut everything away: keep at least the newest message.
      history = history.slice(Math.min(cut, history.length - 1))
      return { pinned: system.map((content): Message => ({ role: 'system', content })), history }
    })
}

/**
 * The trimming units of a non-pinned part, oldest first: an assistant message with
 * `toolCalls` and the tool messages after it that answer those calls, or one
 * message. Tool messages at the very start with no assistant before them form one
 * orphan unit (the view may keep it only when it is the newest unit).
 */
export function splitUnits(messages: readonly Message[]): Message[][] {
  const units: Message[][] = []
  let i = 0
  if (messages[0]?.role === 'tool') {
    const orphans: Message[] = []
    while (messages[i]?.role === 'tool') orphans.push(messages[i++] as Message)
    units.push(orphans)
  }
  while (i < messages.length) {
    const message = messages[i++] as Message
    const unit = [message]
    const ids = new Set((message.role === 'assistant' ? (message.toolCalls ?? []) : []).map((call) => call.id))
    while (ids.size > 0 && messages[i]?.role === 'tool' && ids.has(messages[i]?.toolCallId as string)) {
      unit.push(messages[i++] as Message)
    }
    units.push(unit)
  }
  return units
}

/**
 * What a tail policy must keep: the pinned part, the newest unit, and then older
 * units, newest first, as long as `fits(candidateTail)` holds; the first unit that
 * does not fit (or an orphan tool unit) ends the walk.
 */
export function expectedView(pinned: readonly Message[], history: readonly Message[], fits: (tail: Message[]) => boolean): Message[] {
  const units = splitUnits(history)
  let tail = units.at(-1) ?? []
  for (let u = units.length - 2; u >= 0; u--) {
    const unit = units[u] as Message[]
    const candidate = [...unit, ...tail]
    if (unit[0]?.role === 'tool' || !fits(candidate)) break
    tail = candidate
  }
  return [...pinned, ...tail]
}

/**
 * Invariants every trimmed view must satisfy, stated independently of the oracle.
 * `history` is the non-pinned part the policy was given (oldest first). Messages are
 * compared by value, so views of copies (through a store) can be checked too.
 */
export function viewProblems(pinned: readonly Message[], history: readonly Message[], view: readonly Message[]): string[] {
  const problems: string[] = []
  const same = (a: Message | undefined, b: Message | undefined) => JSON.stringify(a) === JSON.stringify(b)
  for (let i = 0; i < pinned.length; i++) if (!same(view[i], pinned[i])) problems.push(`pinned message ${i} missing`)
  const rest = view.slice(pinned.length)
  if (rest.length === 0) return [...problems, 'view has no non-pinned message']
  if (rest.length > history.length) problems.push('view is longer than the history')
  const offset = history.length - rest.length
  for (let i = 0; i < rest.length; i++) {
    if (!same(rest[i], history[offset + i])) {
      problems.push(`view is not a contiguous tail of the history (at ${i})`)
      break
    }
  }
  if (!same(rest.at(-1), history.at(-1))) problems.push('newest message missing')
  const newestUnit = splitUnits(history).at(-1) ?? []
  const onlyNewest = rest.length === newestUnit.length
  if (rest[0]?.role === 'tool' && !onlyNewest) problems.push('view starts with an orphan tool message')
  // No split group: a tool message in view has its call in view (unless only the newest unit is there
  // and it is itself an orphan), and an assistant call in view has every result the history had.
  const callsInView = new Set(rest.flatMap((m) => (m.toolCalls ?? []).map((c) => c.id)))
  for (const m of rest) {
    if (m.role === 'tool' && !callsInView.has(m.toolCallId as string) && !onlyNewest) {
      problems.push(`tool result ${m.toolCallId} in view without its call`)
    }
  }
  const resultsInView = new Set(rest.filter((m) => m.role === 'tool').map((m) => m.toolCallId))
  for (const m of history) {
    if (m.role === 'tool' && callsInView.has(m.toolCallId as string) && !resultsInView.has(m.toolCallId)) {
      problems.push(`call ${m.toolCallId} in view without its result`)
    }
  }
  return problems
}
