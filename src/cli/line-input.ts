import { createInterface, type Interface } from 'node:readline'
import { Writable } from 'node:stream'

/** One line the user entered; `echoed` is false for a line typed while a reply streamed (it was held back unseen). */
export interface InputLine {
  text: string
  echoed: boolean
}

/**
 * The chat's input: lines from a terminal (with a prompt and line editing) or from
 * a pipe. On a terminal, while a reply streams (`hold(true)`), readline keeps reading
 * (so Ctrl-C and Ctrl-D still work) but its echo is muted: typing does not land in
 * the middle of the reply; the lines are queued and the unfinished one reappears
 * at the next prompt.
 */
export class LineInput {
  readonly interactive: boolean
  readonly #rl: Interface
  readonly #echo: HeldOutput | undefined
  readonly #queue: InputLine[] = []
  #waiting: ((line: InputLine | undefined) => void) | undefined
  #ended = false
  /** Called on Ctrl-C while held (a reply is streaming). */
  onInterrupt: () => void = () => {}

  constructor(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompt: string) {
    this.interactive = input.isTTY === true && output.isTTY === true
    this.#echo = this.interactive ? new HeldOutput(output) : undefined
    this.#rl = createInterface({
      input,
      ...(this.#echo === undefined ? { terminal: false } : { output: this.#echo, terminal: true }),
    })
    this.#rl.setPrompt(prompt)
    this.#rl.on('line', (text) => this.#push({ text, echoed: this.#echo !== undefined && !this.#echo.held }))
    this.#rl.on('close', () => {
      this.#ended = true
      this.#resolve(undefined)
    })
    this.#rl.on('SIGINT', () => this.#interrupt())
  }

  /** The next line, showing the prompt when nothing is queued; `undefined` at the end of input. */
  next(): Promise<InputLine | undefined> {
    const queued = this.#queue.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    if (this.#ended) return Promise.resolve(undefined)
    // `true` keeps what was typed ahead during the reply on the new prompt line.
    if (this.interactive) this.#rl.prompt(true)
    return new Promise((resolve) => (this.#waiting = resolve))
  }

  /** Mutes (or restores) the echo of typing while a reply streams. */
  hold(held: boolean): void {
    if (this.#echo !== undefined) this.#echo.held = held
  }

  close(): void {
    this.#rl.close()
  }

  #push(line: InputLine): void {
    if (this.#waiting !== undefined) this.#resolve(line)
    else this.#queue.push(line)
  }

  #resolve(line: InputLine | undefined): void {
    const waiting = this.#waiting
    this.#waiting = undefined
    waiting?.(line)
  }

  #interrupt(): void {
    if (this.#echo?.held === true) {
      this.onInterrupt()
    } else if (this.#rl.line.length > 0) {
      // Like a shell: Ctrl-C drops the line being typed and starts afresh.
      this.#rl.write(null, { ctrl: true, name: 'e' })
      this.#rl.write(null, { ctrl: true, name: 'u' })
    } else {
      this.#rl.close()
    }
  }
}

/**
 * What readline writes to the terminal, passed through or, while `held`, dropped.
 * Writes go straight through (the callback is not deferred), so readline's output
 * and the chat's own stay in order.
 */
class HeldOutput extends Writable {
  held = false
  readonly isTTY = true

  constructor(readonly target: NodeJS.WriteStream) {
    super({ decodeStrings: false })
    target.on('resize', () => this.emit('resize'))
  }

  get columns(): number {
    return this.target.columns
  }

  get rows(): number {
    return this.target.rows
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.held) this.target.write(chunk)
    callback()
  }
}
