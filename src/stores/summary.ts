import type { SessionSummary } from '../types.js'
import { copyMetadata } from '../metadata.js'
import { assertKnownKeys, assertPositiveInteger, show } from '../validate.js'

const SUMMARY_KEYS: readonly (keyof SessionSummary)[] = ['content', 'position', 'metadata']

/** A checked copy of a summary a store is asked to save; a `TypeError` naming the bad field otherwise. */
export function checkedSummary(value: unknown, name = 'summary'): SessionSummary {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object like { content, position }, got \`${show(value)}\`.`)
  }
  assertKnownKeys(value, SUMMARY_KEYS, name)
  const { content, position, metadata } = value as SessionSummary
  if (typeof content !== 'string') throw new TypeError(`Expected \`${name}.content\` to be a string, got \`${show(content)}\`.`)
  assertPositiveInteger(position, `${name}.position`)
  const copy: SessionSummary = { content, position }
  if (metadata !== undefined) copy.metadata = copyMetadata(metadata, `${name}.metadata`)
  return copy
}

/** A copy for a caller, so that neither side can change the other's. */
export function copySummary(summary: SessionSummary): SessionSummary {
  return summary.metadata === undefined
    ? { content: summary.content, position: summary.position }
    : { content: summary.content, position: summary.position, metadata: JSON.parse(JSON.stringify(summary.metadata)) as Record<string, unknown> }
}
