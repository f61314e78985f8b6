/**
 * A program in a real pseudo-terminal, driven by keystrokes as a person would:
 * each `Terminal` is a detached tmux session on its own tmux server socket (so no
 * other tmux is touched), killed in `close()`.
 *
 * `terminalSkipReason()` decides in one place whether such suites can run: without
 * tmux they are skipped with a visible reason, and fail under `CI=true`.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { ROOT } from './run-node.js'

const run = promisify(execFile)
let counter = 0

export function terminalSkipReason(): string | undefined {
  const found = spawnSync('tmux', ['-V'], { encoding: 'utf8' })
  if (found.error === undefined && found.status === 0) return undefined
  const reason = '`tmux` is not on PATH'
  if (process.env.CI === 'true') throw new Error(`Terminal tests cannot run under CI=true: ${reason}. Install tmux.`)
  return reason
}

export interface Terminal {
  /** tmux key names or literal text, e.g. `type('hello')`, `keys('Enter')`, `keys('C-c')`. */
  type(text: string): Promise<void>
  keys(...names: string[]): Promise<void>
  /** The visible screen, without trailing blank lines and trailing spaces (tmux drops them: a prompt `you> ` reads `you>`). After the exit, its last line is `[exit status N]`. */
  screen(): Promise<string>
  /** Polls the screen until `test` passes; throws with the last screen after `timeoutMs`. */
  waitFor(test: RegExp | ((screen: string) => boolean), timeoutMs?: number): Promise<string>
  /** Resolves with the exit status once the program has ended. */
  exited(timeoutMs?: number): Promise<number>
  close(): Promise<void>
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

/** Starts `node --import tsx <script> <args>` in a `width`×`height` terminal, from the repository root. */
export async function startTerminal(
  script: string,
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; width?: number; height?: number } = {},
): Promise<Terminal> {
  const socket = `promptline-test-${process.pid}-${++counter}`
  const tmux = (...argv: string[]) => run('tmux', ['-L', socket, '-f', '/dev/null', ...argv], { encoding: 'utf8' })
  const unset = Object.entries(options.env ?? {}).filter(([, v]) => v === undefined).map(([k]) => `-u ${quote(k)}`)
  const set = Object.entries(options.env ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => quote(`${k}=${v}`))
  // The shell prints the exit status on the screen: tmux's own pane_dead_status is
  // sometimes never filled in on a busy machine.
  const command = `cd ${quote(ROOT)} && env ${[...unset, ...set].join(' ')} ${quote(process.execPath)} --import tsx ${[script, ...args].map(quote).join(' ')}; echo "[exit status $?]"`
  await tmux('new-session', '-d', '-x', String(options.width ?? 100), '-y', String(options.height ?? 30), command, ';', 'set-option', '-w', 'remain-on-exit', 'on')

  const screen = async () => (await tmux('capture-pane', '-p')).stdout.replace(/ +$/gm, '').replace(/\n+$/, '')
  const poll = async <T>(what: string, read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = await read()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen:\n${await screen()}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return {
    type: async (text) => void (await tmux('send-keys', '-l', text)),
    keys: async (...names) => void (await tmux('send-keys', ...names)),
    screen,
    waitFor: (test, timeoutMs = 15_000) =>
      poll(String(test), async () => {
        const text = await screen()
        return (typeof test === 'function' ? test(text) : test.test(text)) ? text : undefined
      }, timeoutMs),
    exited: (timeoutMs = 15_000) =>
      poll('the program to exit', async () => {
        const status = /^\[exit status (\d+)\]$/m.exec(await screen())?.[1]
        return status === undefined ? undefined : Number(status)
      }, timeoutMs),
    close: async () => {
      await tmux('kill-server').catch(() => {})
    },
  }
}
