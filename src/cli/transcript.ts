import type { Message } from '../types.js'
import { isSummaryMessage } from '../summarizer.js'
import type { Colors } from './colors.js'

const ROLE_WIDTH = 11

/**
 * A stored conversation as a person reads it: one block a message, roles coloured,
 * an assistant's tool calls each followed by the tool message that answered it.
 * A summary message, as the pipeline pins it in a view, is marked as such, and a
 * message's `reasoning` (its readable text) is shown dimmed before the reply it led to.
 */
export function formatTranscript(messages: readonly Message[], color: Colors): string[] {
  const lines: string[] = []
  const answered = new Set<number>()
  const indent = ' '.repeat(6 + ROLE_WIDTH)
  const number = (i: number) => color.dim(String(i + 1).padStart(4))
  const body = (text: string) => text.split('\n').join(`\n${indent}`)
  // Tool messages by the call they answer, oldest first: a long session is not scanned once a call.
  const results = new Map<string, number[]>()
  for (const [i, message] of messages.entries()) {
    if (message.role !== 'tool' || message.toolCallId === undefined) continue
    const list = results.get(message.toolCallId)
    if (list === undefined) results.set(message.toolCallId, [i])
    else list.push(i)
  }

  for (const [i, message] of messages.entries()) {
    if (answered.has(i)) continue
    const role = isSummaryMessage(message) ? 'summary' : message.role
    // The first line of a message carries its number and role; any further line is indented.
    let head = `${number(i)}  ${paint(role, color)(pad(role))}`
    const next = () => {
      const current = head
      head = indent
      return current
    }
    const reasoning = message.reasoning?.text
    if (reasoning !== undefined && reasoning.length > 0) lines.push(`${next()}${color.dim(`(reasoning) ${body(reasoning)}`)}`)
    const calls = message.toolCalls ?? []
    const answers = message.role === 'tool' && message.toolCallId !== undefined ? color.dim(` (answers ${message.toolCallId})`) : ''
    if (message.content.length > 0) lines.push(`${next()}${body(message.content)}${answers}`)
    else if (calls.length > 0) lines.push(`${next()}${color.dim(`calls ${calls.map((c) => c.name).join(', ')}`)}`)
    else lines.push(`${next()}${color.dim('(empty)')}${answers}`)

    for (const [c, call] of calls.entries()) {
      const last = c === calls.length - 1
      lines.push(`${indent}${color.magenta(last ? '└─' : '├─')} ${color.magenta(call.name)} ${call.arguments} ${color.dim(call.id)}`)
      const result = results.get(call.id)?.find((j) => j > i && !answered.has(j))
      if (result === undefined) {
        lines.push(`${indent}${last ? '  ' : '│ '}   ${color.yellow('(no result stored)')}`)
        continue
      }
      answered.add(result)
      const resultText = (messages[result] as Message).content.split('\n').join(`\n${indent}${last ? '  ' : '│ '}     `)
      lines.push(`${indent}${last ? '  ' : color.magenta('│ ')}${color.dim(`${String(result + 1)} →`)} ${resultText}`)
    }
  }
  return lines
}

function pad(role: string): string {
  return role.padEnd(ROLE_WIDTH)
}

function paint(role: string, color: Colors): (text: string) => string {
  switch (role) {
    case 'user':
      return color.cyan
    case 'assistant':
      return color.green
    case 'system':
      return color.yellow
    case 'summary':
      return (text) => color.yellow(color.bold(text))
    default:
      return color.magenta
  }
}

/** `45s`, `12m`, `3h 5m`, `6d 23h`: durations for people. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 24) return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`
  const days = Math.floor(hours / 24)
  return hours % 24 === 0 ? `${days}d` : `${days}d ${hours % 24}h`
}
