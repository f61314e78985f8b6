/**
 * `promptline sessions …` against a throwaway Redis, run as a user would: a child
 * process with piped stdin and stdout. Sessions are written and checked with a
 * RedisStore of the same prefix.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../src/redis.js'
import type { Message } from '../src/index.js'
import { describeRedis, uniquePrefix, useStandaloneRedisClient } from './helpers/redis-server.js'
import { runNode } from './helpers/run-node.js'

const lines = (text: string) => text.split('\n').filter((line) => line.length > 0)

async function ids(store: RedisStore): Promise<string[]> {
  const found: string[] = []
  for await (const id of store.list()) found.push(id)
  return found
}

const CONVERSATION: Message[] = [
  { role: 'user', content: "What's the weather in Paris and Rome?" },
  {
    role: 'assistant',
    content: '',
    toolCalls: [
      { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
    ],
  },
  { role: 'tool', content: '18°C, sunny', toolCallId: 'call_2' },
  { role: 'tool', content: '12°C, rain', toolCallId: 'call_1' },
  { role: 'assistant', content: 'Paris: 12°C and rain.\nRome: 18°C and sunny.', reasoning: { text: 'Match each result to its call.' } },
]

describeRedis('standalone', 'promptline sessions (a throwaway Redis)', () => {
  const redis = useStandaloneRedisClient()
  const stores: RedisStore[] = []
  const dir = mkdtempSync(join(tmpdir(), 'promptline-cli-'))
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
    rmSync(dir, { recursive: true, force: true })
  })

  /** A prefix of its own for one test, and a store on it. */
  function fresh(): { prefix: string; store: RedisStore } {
    const prefix = uniquePrefix('cli')
    redis.prefixes.push(prefix)
    const store = new RedisStore(redis.url, { prefix })
    stores.push(store)
    return { prefix, store }
  }

  function sessions(prefix: string, args: string[], input = '', env: Record<string, string | undefined> = {}) {
    return runNode('src/cli.ts', ['sessions', ...args, '--redis', redis.url, '--prefix', prefix], { input, env: { REDIS_URL: undefined, ...env } })
  }

  // Each test has a prefix of its own, so they run side by side (each spawns a few processes).
  describe.concurrent('commands', { timeout: 90_000 }, () => {
    it('list: every session with its message count, TTL and last activity; --json one object a line; --limit', async () => {
      const { prefix, store } = fresh()
      await store.append('alice', CONVERSATION)
      await store.append('bob', CONVERSATION.slice(0, 1))
      await redis.client.expire(store.keys('bob').messages, 3600)

      const { code, stdout, stderr } = await sessions(prefix, ['list'])
      expect(code).toBe(0)
      expect(stderr).toBe('2 session(s)\n')
      const [header, ...rows] = lines(stdout)
      expect(header).toBe('MESSAGES  TTL        LAST ACTIVITY  SESSION')
      expect(rows).toHaveLength(2)
      expect(rows.find((row) => row.endsWith(' alice'))).toMatch(/^ {7}5 {2}none {7}(just now|\d+s ago) +alice$/)
      expect(rows.find((row) => row.endsWith(' bob'))).toMatch(/^ {7}1 {2}(59m|1h) +(just now|\d+s ago) +bob$/)

      const json = await sessions(prefix, ['list', '--json'])
      const objects = lines(json.stdout).map((line) => JSON.parse(line) as Record<string, unknown>)
      expect(objects.sort((a, b) => String(a.id).localeCompare(String(b.id)))).toEqual([
        { id: 'alice', messages: 5, ttlSeconds: null, idleSeconds: expect.any(Number) },
        { id: 'bob', messages: 1, ttlSeconds: expect.any(Number), idleSeconds: expect.any(Number) },
      ])
      expect(objects[1]?.ttlSeconds).toBeGreaterThan(3500)
      expect(json.stderr).toBe('')

      const limited = await sessions(prefix, ['list', '--json', '--limit', '1'])
      expect(lines(limited.stdout)).toHaveLength(1)
    })

    it('list pages through more sessions than one SCAN batch, each once', async () => {
      const { prefix, store } = fresh()
      const ids = Array.from({ length: 1_234 }, (_, i) => `user:${i}`)
      const batch = redis.client.pipeline()
      for (const id of ids) {
        const keys = store.keys(id)
        batch.rpush(keys.messages, JSON.stringify({ role: 'user', content: `hi ${id}` }))
        batch.hset(keys.meta, 'v', 1)
      }
      await batch.exec()
      const { code, stdout, stderr } = await sessions(prefix, ['list', '--json'])
      expect(code).toBe(0)
      const listed = lines(stdout).map((line) => (JSON.parse(line) as { id: string; messages: number }))
      expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort())
      expect(listed.every((s) => s.messages === 1)).toBe(true)
      expect(stderr).toBe('')
    })

    it('show: the conversation readably, tool calls each followed by its result, reasoning marked; --json', async () => {
      const { prefix, store } = fresh()
      await store.append('weather', CONVERSATION)
      const { code, stdout } = await sessions(prefix, ['show', 'weather'])
      expect(code).toBe(0)
      expect(lines(stdout)).toEqual([
        expect.stringMatching(/^session "weather" · 5 message\(s\) · no expiry · last activity \d+s ago$/),
        "   1  user       What's the weather in Paris and Rome?",
        '   2  assistant  calls get_weather, get_weather',
        '                 ├─ get_weather {"city":"Paris"} call_1',
        '                 │ 4 → 12°C, rain',
        '                 └─ get_weather {"city":"Rome"} call_2',
        '                   3 → 18°C, sunny',
        '   5  assistant  (reasoning) Match each result to its call.',
        '                 Paris: 12°C and rain.',
        '                 Rome: 18°C and sunny.',
      ])

      const json = await sessions(prefix, ['show', 'weather', '--json'])
      expect(JSON.parse(json.stdout)).toEqual({ id: 'weather', ttlSeconds: null, idleSeconds: expect.any(Number), summary: null, messages: CONVERSATION })
    })

    it('show: the rolling summary stored beside the messages comes first, marked; --json carries it', async () => {
      const { prefix, store } = fresh()
      await store.append('summarised', CONVERSATION)
      expect(await store.saveSummary('summarised', { content: 'The user asked about the weather.', position: 3 })).toBe(true)
      const { code, stdout } = await sessions(prefix, ['show', 'summarised'])
      expect(code).toBe(0)
      expect(lines(stdout)[1]).toBe('summary of messages 1–3: The user asked about the weather.')
      const json = JSON.parse((await sessions(prefix, ['show', 'summarised', '--json'])).stdout) as { summary: { content: string; position: number } }
      expect(json.summary).toMatchObject({ content: 'The user asked about the weather.', position: 3 })
    })

    it('export writes JSON Lines that import reads back; --out writes a file', async () => {
      const { prefix, store } = fresh()
      await store.append('source', CONVERSATION)
      const exported = await sessions(prefix, ['export', 'source'])
      expect(exported.code).toBe(0)
      expect(lines(exported.stdout).map((line) => JSON.parse(line) as unknown)).toEqual(CONVERSATION)

      const imported = await sessions(prefix, ['import', 'copy'], exported.stdout)
      expect(imported.stdout).toBe('imported 5 message(s) into "copy"\n')
      expect(imported.code).toBe(0)
      expect(await store.load('copy')).toEqual(CONVERSATION)
      // The staging session it was built under is gone.
      expect((await ids(store)).sort()).toEqual(['copy', 'source'])

      const file = join(dir, 'source.jsonl')
      const toFile = await sessions(prefix, ['export', 'source', '--out', file])
      expect(toFile.stdout).toBe('')
      expect(toFile.stderr).toBe(`exported 5 message(s) of "source" to ${file}\n`)
      expect(readFileSync(file, 'utf8')).toBe(exported.stdout)
    })

    it('import refuses an existing session unless --replace, and replaces it whole', async () => {
      const { prefix, store } = fresh()
      await store.append('taken', [{ role: 'user', content: 'keep me' }])
      const input = CONVERSATION.map((m) => JSON.stringify(m)).join('\n')
      const refused = await sessions(prefix, ['import', 'taken'], input)
      expect(refused.stderr).toBe('promptline sessions: session "taken" already exists (pass --replace to overwrite it); nothing imported\n')
      expect(refused.code).toBe(1)
      expect(await store.load('taken')).toEqual([{ role: 'user', content: 'keep me' }])

      const replaced = await sessions(prefix, ['import', 'taken', '--replace'], input)
      expect(replaced.code).toBe(0)
      expect(await store.load('taken')).toEqual(CONVERSATION)
    })

    it('import checks every line with the library validator: bad lines by number, and nothing written', async () => {
      const { prefix, store } = fresh()
      const input = [
        JSON.stringify({ role: 'user', content: 'fine' }),
        '',
        '{"role": "user", "content": ',
        JSON.stringify({ role: 'robot', content: 'beep' }),
        JSON.stringify({ role: 'assistant', content: 'x', toolCalls: [{ id: 1 }] }),
      ].join('\n')
      const { code, stdout, stderr } = await sessions(prefix, ['import', 'new'], input)
      expect(stdout).toBe('')
      expect(lines(stderr)).toEqual([
        expect.stringMatching(/^line 3: not valid JSON \(.+\)$/),
        'line 4: `role` must be one of system, user, assistant, tool, got `"robot"`',
        'line 5: `toolCalls[0]` must be { id, name, arguments } strings, got `{"id":1}`',
        'promptline sessions: nothing imported: 3 bad lines (above)',
      ])
      expect(code).toBe(1)
      expect(await store.length('new')).toBe(0)
      expect(await ids(store)).toEqual([])

      const one = await sessions(prefix, ['import', 'new'], '{"role":"user"}\n')
      expect(one.stderr).toBe('promptline sessions: nothing imported: line 1: `content` must be a string, got `undefined`\n')
      const empty = await sessions(prefix, ['import', 'new'], '\n\n')
      expect(empty.stderr).toBe('promptline sessions: nothing imported: the input holds no messages\n')
      expect(empty.code).toBe(1)
    })

    it('fork copies a session to a new id; refuses a missing source or an existing target', async () => {
      const { prefix, store } = fresh()
      await store.append('a', CONVERSATION)
      await store.append('taken', CONVERSATION.slice(0, 1))
      const forked = await sessions(prefix, ['fork', 'a', 'b'])
      expect(forked.stdout).toBe('forked "a" into "b" (5 message(s))\n')
      expect(forked.code).toBe(0)
      expect(await store.load('b')).toEqual(CONVERSATION)

      const missing = await sessions(prefix, ['fork', 'nope', 'c'])
      expect(missing.stderr).toBe(`promptline sessions: session "nope" does not exist (prefix "${prefix}" at ${redis.url})\n`)
      expect(missing.code).toBe(1)
      const exists = await sessions(prefix, ['fork', 'a', 'taken'])
      expect(exists.stderr).toBe('promptline sessions: session "taken" already exists; nothing copied\n')
      expect(exists.code).toBe(1)
      expect(await store.length('taken')).toBe(1)
    })

    it('delete removes a session without asking when stdin is no terminal; a missing one is an error', async () => {
      const { prefix, store } = fresh()
      await store.append('gone', CONVERSATION)
      const deleted = await sessions(prefix, ['delete', 'gone'])
      expect(deleted.stdout).toBe('deleted "gone" (5 message(s))\n')
      expect(deleted.code).toBe(0)
      expect(await store.length('gone')).toBe(0)
      const again = await sessions(prefix, ['delete', 'gone', '--yes'])
      expect(again.stderr).toMatch(/^promptline sessions: session "gone" does not exist/)
      expect(again.code).toBe(1)
    })

    it('show and export of a missing session: one line naming the session and the Redis, exit code 1', async () => {
      const { prefix } = fresh()
      for (const command of ['show', 'export']) {
        const { code, stdout, stderr } = await sessions(prefix, [command, 'ghost'])
        expect(stdout).toBe('')
        expect(stderr).toBe(`promptline sessions: session "ghost" does not exist (prefix "${prefix}" at ${redis.url})\n`)
        expect(code).toBe(1)
      }
    })

    it('chat --redis keeps the conversation in Redis, where the next chat and sessions show find it', async () => {
      const { prefix, store } = fresh()
      const chat = (input: string) =>
        runNode('src/cli.ts', ['chat', '--redis', redis.url, '--prefix', prefix, '--session', 'alice'], {
          input,
          env: { REDIS_URL: undefined, OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined },
        })
      const first = await chat("Hi, I'm Alice\n")
      expect(first.stderr).toBe('')
      expect(first.code).toBe(0)
      // A new process: what it remembers came from Redis.
      const second = await chat('What is my name?\n/sessions\n')
      expect(lines(second.stdout)).toEqual(['assistant> Your name is Alice.', 'sessions: alice (current)'])
      expect(await store.length('alice')).toBe(4)
      const shown = await sessions(prefix, ['show', 'alice', '--json'])
      expect((JSON.parse(shown.stdout) as { messages: Message[] }).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant'])
    })

    it('REDIS_URL stands in for --redis; a password in it is never printed', async () => {
      const { prefix, store } = fresh()
      await store.append('via-env', CONVERSATION.slice(0, 1))
      const { code, stdout } = await runNode('src/cli.ts', ['sessions', 'list', '--json', '--prefix', prefix], { env: { REDIS_URL: redis.url } })
      expect(lines(stdout).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['via-env'])
      expect(code).toBe(0)

      const unreachable = await runNode('src/cli.ts', ['sessions', 'list', '--redis', 'redis://:hunter2@127.0.0.1:1'])
      expect(unreachable.stderr).toBe('promptline sessions: cannot reach Redis at redis://***@127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1\n')
      expect(unreachable.code).toBe(1)
    })
  })
})

describe.concurrent('promptline sessions: command-line mistakes (no Redis needed)', () => {
  it.each([
    [['sessions', 'list'], 'promptline sessions: which Redis? Pass --redis <url> or set REDIS_URL'],
    [['sessions', 'show', '--redis', 'redis://127.0.0.1:1'], 'promptline sessions: missing <id>'],
    [['sessions', 'fork', 'a', '--redis', 'redis://127.0.0.1:1'], 'promptline sessions: missing <to>'],
    [['sessions', 'delete', 'a', 'b', '--redis', 'redis://127.0.0.1:1'], 'promptline sessions: unexpected argument "b"'],
    [['sessions', 'list', '--limit', '0', '--redis', 'redis://127.0.0.1:1'], 'promptline sessions: --limit must be a positive integer, got "0"'],
    [['sessions', 'list', '--prefix', 'a{b', '--redis', 'redis://127.0.0.1:1'], 'promptline sessions: --prefix: Expected `prefix` to contain no `{` or `}`'],
    [['sessions', 'show', 'x', '--jsn', '--redis', 'redis://127.0.0.1:1'], 'promptline sessions: unknown option --jsn (did you mean --json?)'],
  ])('%j: exit code 2 and what to fix', async (args, message) => {
    const { code, stdout, stderr } = await runNode('src/cli.ts', args, { env: { REDIS_URL: undefined } })
    expect(stdout).toBe('')
    expect(stderr.startsWith(message)).toBe(true)
    expect(stderr).toContain('Run with --help for usage.')
    expect(code).toBe(2)
  })

  it.each(['list', 'show', 'export', 'import', 'fork', 'delete'])('sessions %s --help', async (command) => {
    const { code, stdout } = await runNode('src/cli.ts', ['sessions', command, '--help'])
    expect(stdout).toMatch(new RegExp(`^Usage: promptline sessions ${command}`))
    expect(stdout).toContain('--redis <url>')
    expect(code).toBe(0)
  })
})
