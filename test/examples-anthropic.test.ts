/**
 * The Anthropic and fallback examples, run as users run them (a child `node`) against
 * the fake Messages API (and the fake OpenAI server) through ANTHROPIC_BASE_URL and
 * OPENAI_BASE_URL; and the docs/providers.md blocks quoting them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, runNode, type RunResult } from './helpers/run-node.js'
import { startFakeAnthropic } from './helpers/fake-anthropic-server.js'
import type { FakeAnthropicServer } from './helpers/fake-anthropic-server.js'
import { startFakeOpenAI } from './helpers/fake-openai-server.js'
import type { FakeOpenAIServer } from './helpers/fake-openai-server.js'

const ANTHROPIC_KEY = 'sk-ant-example-SECRET-42'
const OPENAI_KEY = 'sk-example-SECRET-43'
/** No provider variable of the developer's shell leaks into a run. */
const CLEAN_ENV = {
  ANTHROPIC_API_KEY: undefined,
  ANTHROPIC_BASE_URL: undefined,
  ANTHROPIC_MODEL: undefined,
  ANTHROPIC_AUTH_TOKEN: undefined,
  OPENAI_BASE_URL: undefined,
  OPENAI_API_KEY: undefined,
  OPENAI_MODEL: undefined,
}

function runExample(name: string, env: Record<string, string | undefined>): Promise<RunResult> {
  return runNode(`examples/${name}`, [], { nodeArgs: ['--conditions=promptline-source'], env: { ...CLEAN_ENV, ...env } })
}

async function outputOf(name: string, env: Record<string, string | undefined>): Promise<string[]> {
  const { code, stdout, stderr } = await runExample(name, env)
  expect(stderr).toBe('')
  expect(code).toBe(0)
  return stdout.split('\n').filter((line) => line.length > 0)
}

async function withServers<T>(run: (anthropic: FakeAnthropicServer, openai: FakeOpenAIServer) => Promise<T>): Promise<T> {
  const anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY })
  const openai = await startFakeOpenAI({ apiKey: OPENAI_KEY })
  try {
    return await run(anthropic, openai)
  } finally {
    await Promise.all([anthropic.close(), openai.close()])
  }
}

/** The `// ` lines of an example that show its output. */
function commentedOutput(file: string, pattern: RegExp): string[] {
  return [...readFileSync(join(ROOT, 'examples', file), 'utf8').matchAll(pattern)].map((m) => m[1] ?? '')
}

describe.concurrent('Anthropic examples against the fake servers', { timeout: 60_000 }, () => {
  it('anthropic.ts: streams two turns with cache breakpoints and prints what its comments say', async () => {
    await withServers(async (anthropic) => {
      anthropic.enqueue(
        { kind: 'reply', content: 'Hello, Alice!', usage: { input_tokens: 20, cache_creation_input_tokens: 1200, output_tokens: 6 } },
        { kind: 'reply', content: 'Your name is Alice.', usage: { input_tokens: 10, cache_read_input_tokens: 1200, cache_creation_input_tokens: 40, output_tokens: 7 } },
      )
      const lines = await outputOf('anthropic.ts', { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: anthropic.baseURL })
      expect(lines).toEqual(commentedOutput('anthropic.ts', /^\/\/ ((?:>|Hello|Your|\[).*)$/gm))
      expect(lines).toHaveLength(6)
      const second = anthropic.requests[1]?.body
      expect(second?.system).toEqual([{ type: 'text', text: 'You are a helpful assistant. Answer in one short sentence.', cache_control: { type: 'ephemeral' } }])
      expect(second?.messages?.map((m) => m.role)).toEqual(['user', 'assistant', 'user'])
      expect(JSON.stringify(second?.messages?.at(-1))).toContain('"cache_control"')
    })
  })

  it('anthropic.ts: without ANTHROPIC_API_KEY says what to set and exits 1', async () => {
    const { code, stdout, stderr } = await runExample('anthropic.ts', {})
    expect([code, stdout, stderr]).toEqual([1, '', 'Set ANTHROPIC_API_KEY.\n'])
  })

  it('fallback.ts: Claude answers when it can', async () => {
    await withServers(async (anthropic, openai) => {
      anthropic.enqueue({ kind: 'reply', content: 'Hello there, how are you?' })
      const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: anthropic.baseURL, OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: openai.baseURL }
      expect(await outputOf('fallback.ts', env)).toEqual(['anthropic (claude-haiku-4-5) answered: Hello there, how are you?'])
      expect(openai.requests).toHaveLength(0)
    })
  })

  it('fallback.ts: an overloaded Claude hands the turn to OpenAI, as its comments say', async () => {
    await withServers(async (anthropic, openai) => {
      const now = { 'retry-after-ms': '1' }
      anthropic.enqueue({ kind: 'error', status: 529, headers: now }, { kind: 'error', status: 529, headers: now })
      openai.enqueue({ kind: 'reply', content: 'Hello! Nice to meet you.', model: 'gpt-4o-mini-2024-07-18' })
      const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: anthropic.baseURL, OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: openai.baseURL }
      const lines = await outputOf('fallback.ts', env)
      expect(lines).toEqual(commentedOutput('fallback.ts', /^\/\/ ((?:anthropic failed|openai \().*)$/gm))
      expect(lines).toHaveLength(2)
      expect(anthropic.requests).toHaveLength(2) // the SDK's retry (maxRetries: 1), then the fallback
      expect(openai.requests).toHaveLength(1)
    })
  })
})

describe('docs/providers.md shows the Anthropic examples', () => {
  const text = readFileSync(join(ROOT, 'docs/providers.md'), 'utf8')
  it.each(['examples/anthropic.ts', 'examples/fallback.ts'])('quotes %s', (example) => {
    expect(text).toContain(`\`\`\`ts\n// ${example}\n`)
  })
})
