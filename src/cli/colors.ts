import type { WriteStream } from 'node:tty'
import picocolors from 'picocolors'

export type Colors = ReturnType<typeof picocolors.createColors>

/**
 * Whether to colour what goes to `stream`: never with `NO_COLOR` (https://no-color.org),
 * always with `FORCE_COLOR` (other than `0`), else only on a terminal that has colours.
 * Decided per stream: `promptline … | less` keeps its colour-free stdout even when
 * stderr is still a terminal.
 */
export function wantsColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0'
  return stream.isTTY === true && (stream as WriteStream).hasColors()
}

/** picocolors' formatters, switched on or off for one stream. */
export function colorsFor(stream: NodeJS.WriteStream): Colors {
  return picocolors.createColors(wantsColor(stream))
}
