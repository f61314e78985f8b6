/**
 * `promptline chat` in a real terminal (tmux): what a person hits at the keyboard
 * while a reply streams. Replies come slowly from a fake OpenAI server.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { useFakeOpenAI } from './helpers/pipeline-openai.js'
import { startTerminal, terminalSkipReason, type Terminal } from './helpers/terminal.js'
import { describeRedis, uniquePrefix, useStandaloneRedisClient } from './helpers/redis-server.js'
import { RedisStore } from '../src/redis.js'

const WORDS = 'one two three four five six seven eight nine ten eleven twelve'
const SLOW = { kind: 'reply', content: WORDS, chunkDelayMs: 100 } as const
const SPINNER = /assistant> [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/

const skip = terminalSkipReason()
if (skip !== undefined) console.warn(`[terminal] skipping the terminal chat tests: ${skip}`)

describe.skipIf(skip !== undefined)('promptline chat in a terminal', { timeout: 60_000 }, () => {
  const server = useFakeOpenAI()
  let terminal: Terminal | undefined
  afterEach(async () => {
    await terminal?.close()
    terminal = undefined
  })

  async function chat(args: string[] = [], width = 100): Promise<Terminal> {
    terminal = await startTerminal('src/cli.ts', ['chat', ...args], {
      width,
      env: { OPENAI_API_KEY: undefined, OPENAI_BASE_URL: server.baseURL, REDIS_URL: undefined, NO_COLOR: '1', PL_DEBUG_EXIT: '1' },
    })
    await terminal.waitFor(/^you>$/m)
    return terminal
  }

  it('holds back what is typed during a reply, then sends it: the reply stays whole, the typing lands on the prompt', async () => {
    server.setFallback(SLOW)
    const t = await chat()
    await t.type('Hello')
    await t.keys('Enter')
    await t.waitFor(/assistant> one two/)
    await t.type('second line')
    await t.keys('Enter')
    await t.type('third')
    // Both replies, then the unfinished line back on the prompt.
    const screen = await t.waitFor(/twelve\n[^]*twelve\nyou> third$/)
    const lines = screen.split('\n')
    const at = lines.indexOf('you> Hello')
    expect(lines.slice(at)).toEqual([
      'you> Hello',
      `assistant> ${WORDS}`,
      'you> second line',
      `assistant> ${WORDS}`,
      'you> third',
    ])
    expect(server.requests.map((r) => r.body?.messages?.at(-1)?.content)).toEqual(['Hello', 'second line'])
    // Ctrl-D at an empty prompt quits; first clear "third" with Ctrl-C, as in a shell.
    await t.keys('C-c')
    await t.waitFor(/you>$/)
    await t.keys('C-d')
    expect(await t.exited()).toBe(0)
  })

  it('shows a spinner until the first token; Ctrl-C stops the reply, says "(interrupted)", and the chat goes on', async () => {
    server.enqueue({ kind: 'stall' }, { ...SLOW, chunkDelayMs: 300 })
    // Wide enough for a trace line to fit on one row.
    const t = await chat(['--trace'], 400)
    await t.type('Are you there?')
    await t.keys('Enter')
    await server.waitForRequests(1)
    await t.waitFor(SPINNER)
    await t.keys('C-c')
    let screen = await t.waitFor(/assistant> \(interrupted\)\n/)
    expect(screen).not.toMatch(SPINNER)

    await t.type('Count, please')
    await t.keys('Enter')
    await t.waitFor(/assistant> one two/)
    await t.keys('C-c')
    screen = await t.waitFor(/assistant> one two[^\n]*\n\(interrupted\)\n[^]*you>$/)
    expect(screen).not.toContain('twelve')
    expect(screen).not.toMatch(/AbortError|error:/)
    const timings = screen.split('\n').filter((line) => line.startsWith('[trace] middleware'))
    expect(timings).toHaveLength(2)
    for (const line of timings) {
      expect(line).toContain('provider-call')
      expect(line).toContain('(interrupted)')
      expect(line).not.toContain('(failed)')
    }
    await t.type('/exit')
    await t.keys('Enter')
    expect(await t.exited()).toBe(0)
  })

  it('Ctrl-D during a reply lets the reply finish, then quits', async () => {
    server.setFallback(SLOW)
    const t = await chat()
    await t.type('Hello')
    await t.keys('Enter')
    await t.waitFor(/assistant> one two/)
    await t.keys('C-d')
    expect(await t.exited()).toBe(0)
    expect((await t.screen()).split('\n')).toContain(`assistant> ${WORDS}`)
  })
})

describe.skipIf(skip !== undefined)('promptline sessions delete in a terminal', { timeout: 60_000 }, () => {
  describeRedis('standalone', 'asks before deleting', () => {
    const redis = useStandaloneRedisClient()
    let terminal: Terminal | undefined
    afterEach(async () => {
      await terminal?.close()
      terminal = undefined
    })

    async function deleteIn(prefix: string, answer: string): Promise<{ screen: string; status: number }> {
      terminal = await startTerminal('src/cli.ts', ['sessions', 'delete', 'doomed', '--redis', redis.url, '--prefix', prefix], {
        env: { REDIS_URL: undefined, NO_COLOR: '1' },
      })
      await terminal.waitFor(/Delete session "doomed" \(1 message\(s\)\) at redis:\/\/[^?]+\? \[y\/N\]$/)
      await terminal.type(answer)
      await terminal.keys('Enter')
      const status = await terminal.exited()
      return { screen: await terminal.screen(), status }
    }

    it('keeps the session unless the answer is yes', async () => {
      const prefix = uniquePrefix('cli-tty')
      redis.prefixes.push(prefix)
      const store = new RedisStore(redis.url, { prefix })
      try {
        await store.append('doomed', [{ role: 'user', content: 'hi' }])
        const kept = await deleteIn(prefix, 'n')
        expect(kept.screen).toMatch(/^promptline sessions: not deleted$/m)
        expect(kept.status).toBe(1)
        expect(await store.length('doomed')).toBe(1)

        const deleted = await deleteIn(prefix, 'y')
        expect(deleted.screen).toMatch(/^deleted "doomed" \(1 message\(s\)\)$/m)
        expect(deleted.status).toBe(0)
        expect(await store.length('doomed')).toBe(0)
      } finally {
        await store.close()
      }
    })
  })
})
