import { createHash } from 'node:crypto'

/**
 * The most bytes one model's token-count cache accounts for before it evicts its
 * oldest entries (16 MiB). Each entry is charged `2 × key length + TOKEN_CACHE_ENTRY_BYTES`.
 */
export const TOKEN_CACHE_BYTES = 16 * 1024 * 1024

/**
 * Contents up to this many UTF-16 units are their own cache key; longer ones are
 * keyed by their SHA-256. Hashing costs a few microseconds on every lookup (every
 * turn the message is in view), so only contents this long, whose tokenizing cost
 * dwarfs it, pay it.
 */
export const TOKEN_CACHE_KEY_CHARS = 2048

/**
 * What an entry costs besides its key's characters: the map's slots, the eviction
 * queue's slot and the key string's header. `npm run bench` measures the real heap
 * cost per entry against this charge.
 */
export const TOKEN_CACHE_ENTRY_BYTES = 96

// A low surrogate never starts well-formed text; a content that does is hashed too,
// so a hashed key can never equal a content used as its own key.
const HASHED = '\uDFFF'
const HASHED_CODE = 0xdfff

/**
 * Token counts by content, bounded by bytes rather than entries: a long content is
 * remembered by its SHA-256 (45 characters), never by its text, so 2,000 distinct
 * 100 kB messages cost a few hundred kilobytes, not 200 MB. Entries are evicted
 * oldest first.
 *
 * A value is either an exact count (`>= 0`) or, written as `-n`, a count that was
 * stopped once it passed a budget and is known to be at least `n`.
 */
export class TokenCountCache {
  readonly maxBytes: number
  #counts = new Map<string, number>()
  // Insertion order, for eviction: a separate queue, because evicting through a Map's
  // own iterator gets slower as deleted slots pile up at its front.
  #order: string[] = []
  #head = 0
  #bytes = 0

  constructor(maxBytes = TOKEN_CACHE_BYTES) {
    this.maxBytes = maxBytes
  }

  /** Bytes charged for the entries held now (always `<= maxBytes`). */
  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#counts.size
  }

  keyOf(text: string): string {
    if (text.length <= TOKEN_CACHE_KEY_CHARS && text.charCodeAt(0) !== HASHED_CODE) return text
    // UTF-16 code units, not UTF-8: UTF-8 would map every lone surrogate to U+FFFD.
    return HASHED + createHash('sha256').update(text, 'utf16le').digest('base64')
  }

  get(key: string): number | undefined {
    return this.#counts.get(key)
  }

  set(key: string, value: number): void {
    if (this.#counts.has(key)) {
      this.#counts.set(key, value)
      return
    }
    const cost = costOf(key)
    if (cost > this.maxBytes) return
    this.#counts.set(key, value)
    this.#order.push(key)
    this.#bytes += cost
    while (this.#bytes > this.maxBytes) this.#evictOldest()
  }

  #evictOldest(): void {
    const key = this.#order[this.#head] as string
    this.#order[this.#head++] = ''
    this.#counts.delete(key)
    this.#bytes -= costOf(key)
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head)
      this.#head = 0
    }
  }
}

function costOf(key: string): number {
  return 2 * key.length + TOKEN_CACHE_ENTRY_BYTES
}
