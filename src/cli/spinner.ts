const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const FRAME_MS = 80

/**
 * A one-character spinner at the cursor while the first token is awaited. Each
 * frame is written and the cursor stepped back over it, so the reply's first word
 * simply overwrites it. Only for a terminal: piped output never sees it.
 */
export class Spinner {
  readonly #write: (text: string) => void
  readonly #style: (text: string) => string
  #timer: NodeJS.Timeout | undefined
  #frame = 0

  constructor(write: (text: string) => void, style: (text: string) => string) {
    this.#write = write
    this.#style = style
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#draw()
    this.#timer = setInterval(() => this.#draw(), FRAME_MS)
  }

  /** Erases the frame and leaves the cursor where it was. Idempotent. */
  stop(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#write(' \b')
  }

  #draw(): void {
    const frame = FRAMES[this.#frame++ % FRAMES.length] as string
    this.#write(`${this.#style(frame)}\b`)
  }
}
