/**
 * The OpenAI examples, run as users run them (a child `node`, `promptline` imported by
 * name) against the fake chat-completions server through OPENAI_BASE_URL; and that
 * docs/providers.md quotes them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, runNode, type RunResult } from './helpers/run-node.js'
import { startFakeOpenAI } from './helpers/fake-openai-server.js'
import type { FakeOpenAIOptions, FakeOpenAIServer } from './helpers/fake-openai-server.js'

const KEY = 'sk-test-SECRET-1234'

/** No OpenAI variable of the developer's shell leaks into a run. */
const CLEAN_ENV = { OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined, OPENAI_MODEL: undefined }

function runExample(name: string, env: Record<string, string | undefined>): Promise<RunResult> {
  return runNode(`examples/${name}`, [], { env: { ...CLEAN_ENV, ...env } })
}

/** Runs an example, expects exit code 0 and no stderr, and returns its stdout lines. */
async function outputOf(name: string, env: Record<string, string | undefined>): Promise<string[]> {
  const { code, stdout, stderr } = await runExample(name, env)
  expect(stderr).toBe('')
  expect(code).toBe(0)
  return stdout.split('\n').filter((line) => line.length > 0)
}

/** A fake server of its own for one test (the cases run concurrently), closed afterwards. */
async function withServer<T>(options: FakeOpenAIOptions, run: (server: FakeOpenAIServer) => Promise<T>): Promise<T> {
  const server = await startFakeOpenAI(options)
  try {
    return await run(server)
  } finally {
    await server.close()
  }
}

describe.concurrent('OpenAI examples against the fake server', { timeout: 60_000 }, () => {
  it('openai-compatible.ts: streams a two-turn conversation; the second request carries the first', async () => {
    await withServer({}, async (server) => {
      server.enqueue(
        { kind: 'reply', content: 'Hello, Alice!', usage: { prompt_tokens: 20, completion_tokens: 4 } },
        { kind: 'reply', content: 'Your name is Alice.', usage: { prompt_tokens: 31, completion_tokens: 5 } },
      )
      expect(await outputOf('openai-compatible.ts', { OPENAI_BASE_URL: server.baseURL })).toEqual([
        "> Hi, I'm Alice.",
        'Hello, Alice!',
        '[llama3.2: 20 in / 4 out, saved: true, stored: 2]',
        '> What is my name?',
        'Your name is Alice.',
        '[llama3.2: 31 in / 5 out, saved: true, stored: 4]',
      ])
      expect(server.requests).toHaveLength(2)
      expect(server.requests.map((r) => [r.body?.model, r.body?.stream])).toEqual([
        ['llama3.2', true],
        ['llama3.2', true],
      ])
      expect(server.requests[1]?.body?.messages).toEqual([
        { role: 'system', content: 'You are a helpful assistant. Answer in one short sentence.' },
        { role: 'user', content: "Hi, I'm Alice." },
        { role: 'assistant', content: 'Hello, Alice!' },
        { role: 'user', content: 'What is my name?' },
      ])
    })
  })

  it('openai-compatible.ts: sends OPENAI_API_KEY and OPENAI_MODEL; counts usage when the server sends none', async () => {
    await withServer({ apiKey: KEY, fallback: { kind: 'reply', usage: false } }, async (server) => {
      const lines = await outputOf('openai-compatible.ts', { OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: KEY, OPENAI_MODEL: 'qwen2.5' })
      expect(lines[1]).toBe("Echo: Hi, I'm Alice.")
      expect(lines[2]).toMatch(/^\[qwen2\.5: \d+ in \/ \d+ out \(estimated\), saved: true, stored: 2\]$/)
      expect(lines[5]).toMatch(/^\[qwen2\.5: \d+ in \/ \d+ out \(estimated\), saved: true, stored: 4\]$/)
      expect(server.requests.map((r) => [r.headers.authorization, r.body?.model])).toEqual([
        [`Bearer ${KEY}`, 'qwen2.5'],
        [`Bearer ${KEY}`, 'qwen2.5'],
      ])
    })
  })

  it('openai-compatible.ts: a server that refuses the key fails with ProviderError, the key nowhere in the output', async () => {
    await withServer({}, async (server) => {
      server.enqueue({
        kind: 'error',
        status: 401,
        body: { error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error', code: 'invalid_api_key' } },
      })
      const { code, stdout, stderr } = await runExample('openai-compatible.ts', { OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: KEY })
      expect(code).not.toBe(0)
      // Node prints the uncaught error with its cause chain: still no key in it.
      expect(stderr).toContain('ProviderError: Provider `openai` failed (HTTP 401)')
      expect(stderr).toContain('[redacted]')
      expect(stdout + stderr).not.toContain(KEY)
      expect(server.requests).toHaveLength(1) // a 401 is not retried
    })
  })

  it('openai-compatible.ts: without OPENAI_BASE_URL or OPENAI_API_KEY says what to set and exits 1', async () => {
    const { code, stdout, stderr } = await runExample('openai-compatible.ts', {})
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toBe('Set OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama) or OPENAI_API_KEY.\n')
  })

  it('custom-provider.ts: a hand-written provider streams, cancels on break, fails with ProviderError, keeps its key', async () => {
    expect(await outputOf('custom-provider.ts', {})).toEqual([
      'Message 1 received: Hello, Acme! | acme-1: 2 in / 5 out, $0.000012',
      'Message 2 received: Stream this, please.',
      '[done] saved: true, stored: 4',
      'after break: the server saw the request cancelled; stored: 4',
      'ProviderError: Provider `acme` failed (HTTP 503): Acme is overloaded, try later (status 503)',
      'stored after the failure: 4; key in inspect(provider): false',
    ])
  })

  it('cost-per-session.ts: totals costUsd per session from provider:response events; unpriced turns stay unpriced', async () => {
    const fallback = { kind: 'reply', usage: { prompt_tokens: 1000, completion_tokens: 500 } } as const
    await withServer({ fallback }, async (server) => {
      const lines = await outputOf('cost-per-session.ts', { OPENAI_BASE_URL: server.baseURL, OPENAI_MODEL: 'gpt-4o-mini-2024-07-18' })
      // gpt-4o-mini: $0.15 in / $0.60 out per million → $0.00045 a turn.
      expect(lines).toEqual([
        'alice: 2 turn(s), 2000 in + 1000 out tokens, $0.000900 (gpt-4o-mini-2024-07-18)',
        'bob: 1 turn(s), 1000 in + 500 out tokens, $0.000450 (gpt-4o-mini-2024-07-18)',
        'carol: 3 turn(s), 3000 in + 1500 out tokens, $0.001350 (gpt-4o-mini-2024-07-18)',
        'dave: 1 turn(s), 1000 in + 500 out tokens, no price (my-fine-tune)',
        'all sessions: $0.002700 + 1 unpriced turn(s)',
      ])
      expect(server.requests).toHaveLength(7)
      expect(server.requests.filter((r) => r.body?.model === 'my-fine-tune')).toHaveLength(1)
      // Each session's later turns carry that session's history only.
      const carol = server.requests.find((r) => r.body?.messages?.at(-1)?.content === 'And one for a dog?')
      expect(carol?.body?.messages?.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
        'Suggest a name for a cat.',
        'Another one?',
        'And one for a dog?',
      ])
    })
  })

  it('cost-per-session.ts: the lines printed in its comments are what it prints against the fake server', async () => {
    const source = readFileSync(join(ROOT, 'examples/cost-per-session.ts'), 'utf8')
    const commented = [...source.matchAll(/^\/\/ ((?:alice|bob|carol|dave|all sessions):.*)$/gm)].map((m) => m[1])
    expect(commented).toEqual([
      'alice: 2 turn(s), 2000 in + 1000 out tokens, $0.000900 (gpt-4o-mini-2024-07-18)',
      'bob: 1 turn(s), 1000 in + 500 out tokens, $0.000450 (gpt-4o-mini-2024-07-18)',
      'carol: 3 turn(s), 3000 in + 1500 out tokens, $0.001350 (gpt-4o-mini-2024-07-18)',
      'dave: 1 turn(s), 1000 in + 500 out tokens, no price (my-fine-tune)',
      'all sessions: $0.002700 + 1 unpriced turn(s)',
    ])
  })
})

/** docs/providers.md quotes each OpenAI example (test/docs.test.ts checks the quotes line by line). */
describe('docs/providers.md shows the OpenAI examples', () => {
  const text = readFileSync(join(ROOT, 'docs/providers.md'), 'utf8')
  it.each(['examples/openai-compatible.ts', 'examples/custom-provider.ts', 'examples/cost-per-session.ts'])('quotes %s', (example) => {
    expect(text).toContain(`\`\`\`ts\n// ${example}\n`)
  })
})
