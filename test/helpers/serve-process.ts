/** `promptline serve` in a child process, as users run it, for the browser and multi-process tests. */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { ROOT } from './run-node.js'

export interface ServeProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly child: ChildProcess
  /** What it printed so far. */
  output(): string
  /** SIGTERM, then waits for it to exit (SIGKILL after 5 s). */
  stop(): Promise<void>
  /** SIGKILL: a crash, with no chance to release anything. */
  kill9(): Promise<void>
}

export async function startServe(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<ServeProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  for (const key of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_API_KEY', 'REDIS_URL', 'PROMPTLINE_TOKEN']) delete childEnv[key]
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key]
    else childEnv[key] = value
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--port', '0', ...args], { cwd: ROOT, env: childEnv })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text))
  const exited = once(child, 'exit')
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`promptline serve did not start within 20 s:\n${output}`)), 20_000)
    const check = () => {
      const match = /listening on (http:\/\/[^/\s]+)\//.exec(output)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1] as string)
      }
    }
    child.stdout.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`promptline serve exited early:\n${output}`))
    })
  })
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited.catch(() => {})
    clearTimeout(timer)
  }
  return { url, child, output: () => output, stop: () => stopWith('SIGTERM'), kill9: () => stopWith('SIGKILL') }
}
