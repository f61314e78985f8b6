/**
 * The runnable examples in examples/, run as users run them (importing `promptline` by
 * name). The guides' code blocks quoting them are checked in test/docs.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, runNode, type RunResult } from './helpers/run-node.js'
import { describeRedis, useStandaloneRedis, type StandaloneRedis } from './helpers/redis-server.js'

function runExample(name: string, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return runNode(`examples/${name}`, [], { env })
}

/** Runs an example, expects exit code 0 and no stderr, and returns its stdout lines. */
async function outputOf(name: string, env?: Record<string, string | undefined>): Promise<string[]> {
  const { code, stdout, stderr } = await runExample(name, env)
  expect(stderr).toBe('')
  expect(code).toBe(0)
  return stdout.split('\n').filter((line) => line.length > 0)
}

// Each case spawns a node process; side by side on a small CI machine they take a few seconds.
describe.concurrent('examples', { timeout: 60_000 }, () => {
  it('quick-start.ts: Alice is remembered in her session, not in Bob’s', async () => {
    expect(await outputOf('quick-start.ts')).toEqual([
      'Hello, Alice!',
      'Your name is Alice.',
      "system: You are a helpful assistant. | user: Hi, I'm Alice | assistant: Hello, Alice! | user: What is my name?",
      "I don't know your name.",
      'alice has 4 stored messages',
    ])
  })

  it('managing-state.ts: sessions, fork, copies, list, delete, maxMessages, idempotent append, TTL', async () => {
    expect(await outputOf('managing-state.ts')).toEqual([
      "user: Hi, I'm Alice | assistant: Echo: Hi, I'm Alice",
      'alice: 2, alice-draft: 4',
      'fork refused: Session `bob` already exists',
      'Let us try another answer | Echo: Let us try another answer',
      "Hi, I'm Alice",
      'bob, alice-draft, alice',
      'true 0',
      'two, Echo: two, three, Echo: three',
      'idempotent append: 1 message',
      'after the TTL: 0 messages',
    ])
  })

  it('custom-middleware.ts: redact via use(), a custom event, and a Pipeline.from chain', async () => {
    const lines = await outputOf('custom-middleware.ts')
    expect(lines[0]).toBe('state-load → context-window → token-truncation → redact → timing → provider-call → state-save')
    expect(lines).toContain('redacted 1 address(es) in session carol')
    expect(lines.some((line) => /^timing: the provider call and the save took \d+\.\d ms$/.test(line))).toBe(true)
    expect(lines).toContain('provider saw: Mail me at [email]')
    expect(lines).toContain('stored: Mail me at carol@example.com')
    expect(lines).toContain('reply: Echo: Mail me at [email]')
    expect(lines).toContain('state-load → context-window → redact → provider-call → state-save')
    expect(lines.at(-1)).toBe('chain reply: Echo: I am [email], saved: true')
  })

  it('serve-node.ts: node:http serves JSON and SSE turns, and Bob cannot see Alice\'s session', async () => {
    expect(await outputOf('serve-node.ts')).toEqual([
      '200 Hello from the server! (2 stored)',
      'event: delta, event: delta, event: delta, event: delta, event: done',
      'bob: 404 urn:promptline:problem:session-not-found',
    ])
  })

  it('serve-hono.ts: the handler inside a Hono app', async () => {
    expect(await outputOf('serve-hono.ts')).toEqual(['200 Hello from Hono!', '{"sessions":["s1"]}'])
  })

  it('serve-express.ts: the handler inside an Express app, with its body limit', async () => {
    expect(await outputOf('serve-express.ts')).toEqual(['200 Hello from Express!', '413 urn:promptline:problem:body-too-large'])
  })

  it('testing-middleware.ts: MockProvider records what each turn sent', async () => {
    expect(await outputOf('testing-middleware.ts')).toEqual(['ok: signature middleware', 'ok: provider failure'])
  })

  it('configuring.ts: options, same-session turns serialised, sessions concurrent, abort, shutdown', async () => {
    expect(await outputOf('configuring.ts')).toEqual([
      'state-load, context-window, token-truncation, provider-call, state-save',
      '"a" saw 0 earlier, "b" saw 2 earlier, "c" saw 4 earlier',
      '4 sessions in parallel: concurrent',
      'AbortError',
      'in flight: saved true',
      'true',
    ])
  })

  it('trimming.ts: window and token limit keep the newest messages, tool groups whole, and overflow fails', async () => {
    expect(await outputOf('trimming.ts')).toEqual([
      'context:trimmed kept 5, dropped 1',
      'context:trimmed kept 5, dropped 1',
      'system:Be terse. | assistant:ok | user:three | assistant:ok | user:four',
      '{"context-window":{"kept":5,"dropped":1}}',
      'stored: 8 messages',
      '"Hello there" as a user message: 6 tokens; priming: 3',
      'tokens:truncated kept 7, dropped 3, 40 of 40 tokens',
      'system:Be terse. | assistant:ok | user:three | assistant:ok | user:four | assistant:ok | user:five',
      'assistant:Paris 18°C, Rome 24°C. | user:Thanks!',
      'ContextOverflowError: needs 95 tokens, budget 40',
    ])
  })

  it('trimming-policies.ts: keepFirst, startOn, toolResults, oversized, the view check, withSession', async () => {
    expect(await outputOf('trimming-policies.ts')).toEqual([
      'system:Be terse. | user:Task: plan a trip to Rome. | assistant:ok | user:Hotels?',
      'user:Flights?',
      'user:Compare Rome and Paris. | assistant: | tool:[tool result cleared to save c… | assistant: | tool:Paris: ipsum ipsum ipsum ipsum… | user:Which is warmer?',
      '{"kept":6,"dropped":0,"cleared":1}',
      'tokens:oversized kept 1478 of at most 1483 tokens',
      'BUILD START … ERROR: missing semicolon; sent 6261 of 204036 characters',
      'stored whole: true',
      'ViewInvariantError from `dropNewest`',
      'maintenance ran after the turn queued before it: it saw 12 messages',
    ])
  })

  it('summary.ts: the rolling summary keeps the name and the task after the window dropped them', async () => {
    expect(await outputOf('summary.ts')).toEqual([
      'summary:updated 0 → 6 (6 messages, 488 characters sent)',
      'system: You are a travel agent.',
      'system: Summary of the earlier conversation:',
      'My name is Ada. I need a hotel in Rome',
      'assistant: Noted.',
      'user: And parking?',
      'assistant: Noted.',
      'user: What do you know about me?',
      'stored summary covers 6 of 16 messages',
    ])
  })

  it('errors.ts: each error class, when it happens, and its fields', async () => {
    expect(await outputOf('errors.ts')).toEqual([
      'state:save-retry attempt 1, 2 left',
      'state:save-retry attempt 2, 1 left',
      'StateSaveError: Could not save session `s`: disk full',
      'the reply is still there: Hello!; cause: disk full',
      'state:save-failed after 1 attempt(s)',
      'saved: false',
      'StateLoadError: Could not load session `s`: connection refused',
      'state:load-failed, action: start-fresh',
      'start-fresh reply: Echo: Hi',
      'ContextOverflowError: needs 55, budget 20',
      'ProviderError: Provider `mock` failed: model overloaded (provider mock, status undefined)',
      'AbortError: Turn of session `s` timed out after 50 ms',
      'AbortError: Turn of session `s` was aborted',
      'SessionNotFoundError: Session `nobody` does not exist',
      'PipelineClosedError: Pipeline is shut down and accepts no new turns',
      'TypeError: Expected `sessionId` to be a non-empty string, got `""`.',
      'PipelineClosedError: Pipeline is shut down and accepts no new turns',
    ])
  })

  it('streaming.ts: deltas then done; break stores nothing; an abort stores the partial reply', async () => {
    expect(await outputOf('streaming.ts')).toEqual([
      'Streaming sends the reply word by word.',
      '[done] saved: true, stored: 2',
      'after break: 2 stored',
      'AbortError: Turn of session `s` was aborted',
      'stored partial reply: "Streaming sends the ", metadata: {"aborted":true}',
    ])
  })

  it('cost.ts: costUsd from the price table, totalled per session; undefined for unknown models', async () => {
    const lines = await outputOf('cost.ts')
    // gpt-4o-mini is $0.15 in / $0.60 out per million tokens: check the arithmetic, not the mock's token counts.
    const first = /^gpt-4o-mini: (\d+) in \+ (\d+) out = \$(\d\.\d{8})$/.exec(lines[0] ?? '')
    expect(first).not.toBeNull()
    const [, input, output, usd] = first as RegExpExecArray
    expect(Number(usd)).toBeCloseTo((Number(input) * 0.15 + Number(output) * 0.6) / 1e6, 8)
    expect(lines[1]).toMatch(/^alice: 2 turn\(s\), \$0\.\d{8}$/)
    expect(lines[2]).toMatch(/^bob: 1 turn\(s\), \$0\.\d{8}$/)
    expect(lines[3]).toMatch(/^fine-tune: \$0\.\d{8}$/)
    expect(lines.slice(4)).toEqual([
      'unknown model: undefined',
      `DEFAULT_PRICING['gpt-4o-mini']: {"input":0.15,"output":0.6,"cachedInput":0.075}`,
      // Counted locally with gpt-4o's tokenizer: 3 priming + 4 + 1 ("Hi") in, 4 out; $2.50 / $10 per million.
      'estimated usage: {"inputTokens":8,"outputTokens":4,"estimated":true}, $0.00006000',
      // claude-haiku-4-5 is unknown to gpt-tokenizer: the same count, in gpt-4o's encoding, said so.
      'claude, estimated: {"inputTokens":8,"outputTokens":4,"estimated":true,"estimatedWith":"gpt-4o"}',
      'not estimated: undefined, $undefined',
    ])
  })

  it('mock-provider.ts: a scripted reply, the recorded requests, a scripted tool call', async () => {
    expect(await outputOf('mock-provider.ts')).toEqual([
      `["Hi, I'm Alice","Hello, Alice!","What is my name?"]`,
      'weather({"city":"Paris"})',
    ])
  })

  it('events.ts: the events of one turn, in order', async () => {
    const lines = await outputOf('events.ts')
    expect(lines.map((line) => line.split(' ')[0])).toEqual([
      'execution:start',
      'middleware:start',
      'state:loaded',
      'middleware:start',
      'context:trimmed',
      'middleware:start',
      'middleware:start',
      'provider:response',
      'middleware:start',
      'state:saved',
      'middleware:end',
      'middleware:end',
      'middleware:end',
      'middleware:end',
      'middleware:end',
      'execution:end',
      'turn',
    ])
    expect(lines).toContain('context:trimmed {"kept":3,"dropped":1,"maxMessages":2}')
    expect(lines.at(-1)).toMatch(/^turn [0-9a-f]{8} of s: \d+\.\d ms, saved: true$/)
  })
})

describeRedis('standalone', 'examples on Redis', () => {
  let redis: StandaloneRedis
  beforeAll(async () => {
    redis = await useStandaloneRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  it('quick-start-redis.ts: a new store and pipeline on the same Redis remember Alice', { timeout: 60_000 }, async () => {
    expect(await outputOf('quick-start-redis.ts', { REDIS_URL: redis.url })).toEqual([
      'Hello, Alice!',
      'Your name is Alice.',
      'stored in Redis: 4 messages',
    ])
  })

  it('serve-redis.ts: two instances on one Redis, the lease ordering one session\'s turns', { timeout: 60_000 }, async () => {
    expect(await outputOf('serve-redis.ts', { REDIS_URL: redis.url })).toEqual([
      'all 10 answered',
      '20 stored; earlier messages seen: 0 2 4 6 8 10 12 14 16 18',
    ])
  })

  it('redis-store.ts: the options of docs/redis.md, and the keys of a session', { timeout: 60_000 }, async () => {
    expect(await outputOf('redis-store.ts', { REDIS_URL: redis.url })).toEqual([
      'alice: 2 messages',
      '{"messages":"chat:{user:42}:msgs","meta":"chat:{user:42}:meta","idempotency":"chat:{user:42}:idem"}',
      'chat:{%7Ba%7D}:msgs',
    ])
  })
})

describe('every example is run by a test', () => {
  it('names each examples/*.ts file in some test file', () => {
    const testFiles = readdirSync(join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.test.ts'))
      .map((file) => readFileSync(join(ROOT, 'test', file), 'utf8'))
    const examples = readdirSync(join(ROOT, 'examples')).filter((file) => file.endsWith('.ts'))
    expect(examples.length).toBeGreaterThan(0)
    const unrun = examples.filter((file) => !testFiles.some((text) => text.includes(`'${file}'`) || text.includes(`examples/${file}`)))
    expect(unrun).toEqual([])
  })
})
