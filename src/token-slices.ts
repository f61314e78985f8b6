/**
 * Where a long text may be cut so that its slices can be tokenized one at a time.
 *
 * gpt-tokenizer first splits a text into pre-tokens with a regular expression,
 * then runs byte-pair merging on each pre-token; the merging is quadratic in the
 * pre-token's length, so one unbroken run (100 kB of `x`, a base64 blob without
 * case changes) costs seconds and, at about 1 MB, overflows the stack. Counting
 * therefore hands the tokenizer at most `SLICE_CHARS` characters at a time.
 *
 * A natural cut is a position where every encoding gpt-tokenizer ships (r50k,
 * p50k, cl100k, o200k) ends a pre-token, and where the text before it splits the
 * same way alone as in the whole: there, the tokens of the slices add up to the
 * tokens of the text exactly. Three rules, each checked against the split patterns:
 *
 * - after a letter, before anything but a letter, a combining mark or `'` (a letter
 *   run continues through marks and, in o200k, into a contraction like `'s`);
 * - after a digit, before anything but a digit;
 * - after any non-whitespace character, before a space or a tab (no pre-token
 *   carries a non-space character on into a space; newlines are excluded because
 *   punctuation pre-tokens swallow the newlines that follow them).
 *
 * A run without any natural cut longer than `SLICE_CHARS` is cut anyway (a forced
 * cut). Tokens of the two sides then differ from the tokens of the whole by a small
 * amount: measured from -2 to +3 over thousands of random cuts in letters, digits,
 * punctuation, whitespace and emoji for cl100k and o200k. Each forced cut therefore
 * adds `FORCED_CUT_MARGIN_TOKENS` to the count, which makes it an over-estimate by
 * 1 to 6 tokens per forced cut, never an under-estimate in those measurements.
 */

/**
 * The most characters (UTF-16 units) handed to the tokenizer in one call. Merging
 * is quadratic in bytes: 512 CJK characters (1.5 kB) take about 1.5 ms, 1,024 of
 * them 7.5 ms; ordinary text takes well under a millisecond a slice.
 */
export const SLICE_CHARS = 512

/** Tokens added for each forced cut, so a count over cut slices does not fall below the exact count. */
export const FORCED_CUT_MARGIN_TOKENS = 3

const LETTER = /\p{L}/u
const MARK = /\p{M}/u
const DIGIT = /\p{N}/u
const SPACE = /\s/u

type CharClass = 'letter' | 'mark' | 'digit' | 'space' | 'other'

function classOf(char: string): CharClass {
  const code = char.charCodeAt(0)
  if (code < 0x80) {
    if ((code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a)) return 'letter'
    if (code >= 0x30 && code <= 0x39) return 'digit'
    if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return 'space'
    return 'other'
  }
  if (LETTER.test(char)) return 'letter'
  if (MARK.test(char)) return 'mark'
  if (DIGIT.test(char)) return 'digit'
  if (SPACE.test(char)) return 'space'
  return 'other'
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}

/** The whole character ending just before `index` (a surrogate pair counts as one). */
function charBefore(text: string, index: number): string {
  const code = text.charCodeAt(index - 1)
  if (isLowSurrogate(code) && index >= 2 && isHighSurrogate(text.charCodeAt(index - 2))) return text.slice(index - 2, index)
  return text.charAt(index - 1)
}

/** The whole character starting at `index`. */
function charAt(text: string, index: number): string {
  return String.fromCodePoint(text.codePointAt(index) as number)
}

/** `true` when every split pattern ends a pre-token at `index` (see the rules above). */
export function isNaturalCut(text: string, index: number): boolean {
  if (index <= 0 || index >= text.length) return false
  // Never between the halves of a surrogate pair.
  if (isLowSurrogate(text.charCodeAt(index)) && isHighSurrogate(text.charCodeAt(index - 1))) return false
  const after = charAt(text, index)
  if (after === ' ' || after === '\t') return classOf(charBefore(text, index)) !== 'space'
  const before = classOf(charBefore(text, index))
  const next = classOf(after)
  if (before === 'letter') return next !== 'letter' && next !== 'mark' && after !== "'"
  if (before === 'digit') return next !== 'digit'
  return false
}

/**
 * The end of the slice that starts at `start`: the whole rest when it is at most
 * `sliceChars` long, else the last natural cut within `sliceChars`, else a forced
 * cut at `sliceChars` (moved by one place rather than split a surrogate pair).
 */
export function sliceEnd(text: string, start: number, sliceChars = SLICE_CHARS): { end: number; forced: boolean } {
  const limit = start + sliceChars
  if (limit >= text.length) return { end: text.length, forced: false }
  for (let index = limit; index > start; index--) {
    if (isNaturalCut(text, index)) return { end: index, forced: false }
  }
  const splitsPair = isLowSurrogate(text.charCodeAt(limit)) && isHighSurrogate(text.charCodeAt(limit - 1))
  if (!splitsPair) return { end: limit, forced: true }
  return { end: limit - 1 > start ? limit - 1 : limit + 1, forced: true }
}
