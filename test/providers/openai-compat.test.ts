/**
 * OpenAIProvider against what OpenAI-compatible servers really send, each case built on
 * the server's published wire format: Gemini's indexless, id-less streamed tool calls
 * with `finish_reason: "stop"`, and reasoning in `reasoning_content` (DeepSeek,
 * llama.cpp, vLLM) or `reasoning` (Ollama, OpenRouter, xAI), which DeepSeek's thinking
 * mode wants back on assistant messages with tool calls and api.openai.com rejects.
 */
import { describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { MemoryStore, Pipeline } from '../../src/index.js'
import { OpenAIProvider } from '../../src/openai.js'
import type { Message, ProviderChunk, ProviderResponse } from '../../src/types.js'
import { collect } from '../helpers/async.js'
import { user } from '../helpers/messages.js'
import { KEY, useFakeOpenAI } from '../helpers/pipeline-openai.js'
import type { FakeOpenAIServer } from '../helpers/fake-openai-server.js'

/** A server that, like api.openai.com, rejects unknown message fields. */
const strict = useFakeOpenAI({ rejectUnknownMessageFields: true })

function provider(server: FakeOpenAIServer): OpenAIProvider {
  return new OpenAIProvider({ model: 'gemini-2.5-flash', apiKey: KEY, baseURL: server.baseURL, maxRetries: 0 })
}

function doneOf(chunks: ProviderChunk[]): ProviderResponse {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('the stream did not end with done')
  return last.response
}

/** A stream of raw `chat.completion.chunk` deltas, exactly as given, then `[DONE]`. */
function rawStream(deltas: Array<Record<string, unknown>>, finishReason: string) {
  return {
    kind: 'handler' as const,
    handle: (_request: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'gemini-2.5-flash', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
      for (const delta of deltas) res.write(chunk(delta, null))
      res.end(`${chunk({}, finishReason)}data: [DONE]\n\n`)
    },
  }
}

describe('streamed tool calls without index (Gemini)', () => {
  const server = useFakeOpenAI({ strictToolMessages: true })

  it('keeps parallel calls apart, names and arguments unmixed, and reports tool_calls despite "stop"', async () => {
    server.enqueue({
      kind: 'reply',
      toolCallStyle: 'indexless',
      toolCalls: [
        { id: 'function-call-1', name: 'get_weather', arguments: '{"location":"Sydney"}' },
        { id: 'function-call-2', name: 'get_time', arguments: '{"tz":"Australia/Sydney"}' },
      ],
    })
    const response = doneOf(await collect(provider(server).stream({ messages: [user('Weather and time in Sydney?')] })))
    expect(response.message.toolCalls).toEqual([
      { id: 'function-call-1', name: 'get_weather', arguments: '{"location":"Sydney"}' },
      { id: 'function-call-2', name: 'get_time', arguments: '{"tz":"Australia/Sydney"}' },
    ])
    expect(response.finishReason).toBe('tool_calls')
  })

  it('keeps two calls of the same function apart even without ids', async () => {
    server.enqueue({
      kind: 'reply',
      toolCallStyle: 'indexless',
      toolCalls: [
        { id: '', name: 'get_weather', arguments: '{"location":"Paris"}' },
        { id: null, name: 'get_weather', arguments: '{"location":"London"}' },
      ],
    })
    const calls = doneOf(await collect(provider(server).stream({ messages: [user('Paris and London?')] }))).message.toolCalls ?? []
    expect(calls.map((c) => [c.name, c.arguments])).toEqual([
      ['get_weather', '{"location":"Paris"}'],
      ['get_weather', '{"location":"London"}'],
    ])
    expect(calls.every((c) => /^call_[0-9a-f]{24}$/.test(c.id))).toBe(true)
    expect(new Set(calls.map((c) => c.id)).size).toBe(2)
  })

  it('continues a call whose arguments come in indexless pieces, and does not repeat a repeated name', async () => {
    server.enqueue(
      rawStream(
        [
          { role: 'assistant', tool_calls: [{ id: 'function-call-9', type: 'function', function: { name: 'get_weather', arguments: '{"loca' } }] },
          { tool_calls: [{ function: { arguments: 'tion":"Os' } }] },
          { tool_calls: [{ function: { name: 'get_weather', arguments: 'lo"}' } }] },
        ],
        'stop',
      ),
    )
    const response = doneOf(await collect(provider(server).stream({ messages: [user('Oslo?')] })))
    expect(response.message.toolCalls).toEqual([{ id: 'function-call-9', name: 'get_weather', arguments: '{"location":"Oslo"}' }])
    expect(response.finishReason).toBe('tool_calls')
  })

  it('starts a new call when a server reuses index 0 with a new id', async () => {
    server.enqueue(
      rawStream(
        [
          { tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { tool_calls: [{ index: 0, id: 'b', type: 'function', function: { name: 'g', arguments: '{"x":1}' } }] },
        ],
        'tool_calls',
      ),
    )
    const response = doneOf(await collect(provider(server).stream({ messages: [user('go')] })))
    expect(response.message.toolCalls).toEqual([
      { id: 'a', name: 'f', arguments: '{}' },
      { id: 'b', name: 'g', arguments: '{"x":1}' },
    ])
  })
})

describe('tool calls with an empty or missing id', () => {
  const server = useFakeOpenAI({ strictToolMessages: true })

  it('get a unique generated id (complete), and finishReason is tool_calls whatever the server said', async () => {
    server.enqueue({
      kind: 'reply',
      finishReason: 'stop',
      toolCalls: [
        { id: '', name: 'a', arguments: '{}' },
        { id: null, name: 'b', arguments: '{}' },
      ],
    })
    const response = await provider(server).complete({ messages: [user('go')] })
    const ids = response.message.toolCalls?.map((c) => c.id) ?? []
    expect(ids).toHaveLength(2)
    expect(ids.every((id) => /^call_[0-9a-f]{24}$/.test(id))).toBe(true)
    expect(ids[0]).not.toBe(ids[1])
    expect(response.finishReason).toBe('tool_calls')
  })

  it.each(['execute', 'stream'] as const)('the generated id is stored and answered: the session is not stuck (%s)', async (mode) => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: provider(server), store })
    server.enqueue(
      { kind: 'reply', toolCallStyle: 'indexless', toolCalls: [{ id: '', name: 'get_weather', arguments: '{"location":"Rome"}' }] },
      { kind: 'reply', content: 'Sunny in Rome.' },
    )
    const first =
      mode === 'execute'
        ? await pipe.execute('s', 'user', 'Rome?')
        : await (async () => {
            const chunks = await collect(pipe.stream('s', 'user', 'Rome?'))
            const last = chunks.at(-1)
            if (last?.type !== 'done') throw new Error('no done')
            return last.result
          })()
    const id = first.response.toolCalls?.[0]?.id ?? ''
    expect(id).toMatch(/^call_/)
    expect(first.finishReason).toBe('tool_calls')
    const stored = await store.load('s')
    expect(stored[1]?.toolCalls?.[0]?.id).toBe(id)

    const second = await pipe.execute('s', 'tool', '{"sky":"sunny"}', { toolCallId: id })
    expect(second.response.content).toBe('Sunny in Rome.')
    // strictToolMessages: the server accepted the pairing of the generated id.
    const sent = server.requests[1]?.body?.messages ?? []
    expect(sent.at(-2)?.tool_calls).toEqual([{ id, type: 'function', function: { name: 'get_weather', arguments: '{"location":"Rome"}' } }])
    expect(sent.at(-1)).toEqual({ role: 'tool', content: '{"sky":"sunny"}', tool_call_id: id })
    await pipe.shutdown()
  })
})

describe('reasoning from compatible servers', () => {
  const server = useFakeOpenAI({ requireReasoningContent: true, strictToolMessages: true })

  it.each(['reasoning_content', 'reasoning'] as const)('is kept from %s, in complete and in stream, never in content', async (field) => {
    const p = provider(server)
    server.enqueue(
      { kind: 'reply', content: '42.', reasoning: { field, text: 'Six times seven is 42.' } },
      { kind: 'reply', content: '42.', reasoning: { field, text: 'Six times seven is 42.' } },
    )
    const completed = await p.complete({ messages: [user('6*7?')] })
    const chunks = await collect(p.stream({ messages: [user('6*7?')] }))
    const streamed = doneOf(chunks)
    for (const response of [completed, streamed]) {
      expect(response.message).toEqual({ role: 'assistant', content: '42.', reasoning: { text: 'Six times seven is 42.', format: field } })
    }
    // Deltas carry the answer only.
    expect(chunks.flatMap((c) => (c.type === 'delta' ? [c.text] : [])).join('')).toBe('42.')
  })

  it('goes back in reasoning_content on an assistant message with tool calls (DeepSeek answers 400 otherwise), not on others', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: provider(server), store })
    server.enqueue(
      { kind: 'reply', content: 'Hello.', reasoning: { field: 'reasoning_content', text: 'Greet back.' } },
      {
        kind: 'reply',
        reasoning: { field: 'reasoning_content', text: 'I need the weather tool.' },
        toolCalls: [{ id: 'call_w', name: 'weather', arguments: '{"city":"Paris"}' }],
      },
      { kind: 'reply', content: 'Sunny.', reasoning: { field: 'reasoning_content', text: 'Report it.' } },
    )
    await pipe.execute('d', 'user', 'Hi')
    const call = await pipe.execute('d', 'user', 'Weather in Paris?')
    expect(call.response.reasoning).toEqual({ text: 'I need the weather tool.', format: 'reasoning_content' })
    const answer = await pipe.execute('d', 'tool', 'sunny', { toolCallId: 'call_w' })
    expect(answer.response.content).toBe('Sunny.')

    const sent = server.requests[2]?.body?.messages ?? []
    expect(sent[1]).toEqual({ role: 'assistant', content: 'Hello.' }) // no tool calls: not sent back
    expect(sent[3]).toMatchObject({ role: 'assistant', reasoning_content: 'I need the weather tool.' })
    expect((await store.load('d')).map((m) => m.reasoning?.text)).toEqual([
      undefined,
      'Greet back.',
      undefined,
      'I need the weather tool.',
      undefined,
      'Report it.',
    ])
    await pipe.shutdown()
  })

  it('is never sent to api.openai.com, whatever it carries', async () => {
    const client = new OpenAI({
      apiKey: KEY,
      baseURL: 'https://api.openai.com/v1',
      maxRetries: 0,
      // Talk to the fake server while the provider believes it talks to api.openai.com.
      fetch: (url, init) => fetch(String(url).replace('https://api.openai.com/v1', strict.baseURL), init),
    })
    const p = new OpenAIProvider({ model: 'gpt-4o-mini', client })
    const messages: Message[] = [
      user('Weather?'),
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'weather', arguments: '{}' }], reasoning: { text: 'hm', format: 'reasoning_content' } },
      { role: 'tool', content: 'sunny', toolCallId: 'c1' },
    ]
    strict.enqueue({ kind: 'reply', content: 'Sunny.' })
    expect((await p.complete({ messages })).message.content).toBe('Sunny.')
    expect(strict.requests[0]?.body?.messages?.[1]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{}' } }],
    })
  })

  it("never sends another provider's reasoning (Anthropic thinking blocks) to a compatible server", async () => {
    const messages: Message[] = [
      user('Weather?'),
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'c1', name: 'weather', arguments: '{}' }],
        reasoning: { text: 'hm', format: 'anthropic', data: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }] },
      },
      { role: 'tool', content: 'sunny', toolCallId: 'c1' },
    ]
    strict.enqueue({ kind: 'reply', content: 'ok' })
    await new OpenAIProvider({ model: 'm', apiKey: KEY, baseURL: strict.baseURL }).complete({ messages })
    expect(Object.keys(strict.requests[0]?.body?.messages?.[1] ?? {})).toEqual(['role', 'content', 'tool_calls'])
  })

  it('(the strict server does reject reasoning_content, so the two tests above can fail)', async () => {
    const messages: Message[] = [user('Weather?'), { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'w', arguments: '{}' }], reasoning: { text: 'hm', format: 'reasoning_content' } }, { role: 'tool', content: 'x', toolCallId: 'c1' }]
    const error = await new OpenAIProvider({ model: 'm', apiKey: KEY, baseURL: strict.baseURL, maxRetries: 0 }).complete({ messages }).catch((e: unknown) => e)
    expect(String(error)).toContain('Unrecognized request argument supplied: messages[1].reasoning_content')
  })
})
