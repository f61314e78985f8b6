/**
 * Tool definitions: the `tools` pipeline option reaches the provider on every turn,
 * in OpenAI's `tools` format on the wire, and bad definitions are refused up front.
 */
import { describe, expect, it } from 'vitest'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { providerCall } from '../middleware/provider-call.js'
import type { ToolDefinition } from '../src/types.js'
import { setup, useFakeOpenAI } from './helpers/pipeline-openai.js'

const WEATHER: ToolDefinition = {
  name: 'weather',
  description: 'Current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}
const CLOCK: ToolDefinition = { name: 'clock' }

describe('tools, through a provider', () => {
  it('are in every request, as given, and cannot be changed afterwards through the options', async () => {
    const provider = new MockProvider({ reply: 'ok' })
    const tools = [{ ...WEATHER }, { ...CLOCK }]
    const pipe = new Pipeline({ provider, tools })
    await pipe.execute('s', 'user', 'one')
    ;(tools[0] as ToolDefinition).name = 'changed'
    await pipe.execute('s', 'user', 'two')
    expect(provider.requests.map((request) => request.tools?.map((tool) => tool.name))).toEqual([
      ['weather', 'clock'],
      ['weather', 'clock'],
    ])
    expect(provider.requests[0]?.tools?.[0]).toEqual({ ...WEATHER, name: 'weather' })
  })

  it('are absent from the request when none are configured', async () => {
    const provider = new MockProvider({ reply: 'ok' })
    await new Pipeline({ provider }).execute('s', 'user', 'hi')
    expect(provider.requests[0]).not.toHaveProperty('tools')
  })
})

describe('tools, on the wire to an OpenAI-compatible server', () => {
  const server = useFakeOpenAI()

  it('are sent as OpenAI function tools, and the call that comes back is stored', async () => {
    const { pipe, store } = setup(server, { pipeline: { tools: [WEATHER, CLOCK] } })
    const call = { id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' }
    server.enqueue({ kind: 'reply', toolCalls: [call] })

    const result = await pipe.execute('s', 'user', 'Weather in Paris?')

    expect(server.requests[0]?.body?.tools).toEqual([
      { type: 'function', function: { name: 'weather', description: WEATHER.description, parameters: WEATHER.parameters } },
      { type: 'function', function: { name: 'clock' } },
    ])
    expect(result.response.toolCalls).toEqual([call])
    expect((await store.load('s'))[1]?.toolCalls).toEqual([call])
  })

  it('sends no tools field without tools', async () => {
    const { pipe } = setup(server)
    server.enqueue({ kind: 'reply', content: 'hi' })
    await pipe.execute('s', 'user', 'Hello')
    expect(server.requests[0]?.body).not.toHaveProperty('tools')
  })
})

describe('bad tool definitions', () => {
  it.each([
    ['not an array', { name: 'weather' }, /`tools`.*an array/],
    ['a string entry', ['weather'], /`tools\[0\]`.*"weather"/],
    ['a missing name', [{ description: 'x' }], /`tools\[0\]\.name`.*undefined/],
    ['an empty name', [{ name: '' }], /`tools\[0\]\.name`.*""/],
    ['a duplicate name', [WEATHER, { name: 'weather' }], /`tools\[1\]\.name`.*unique.*"weather"/],
    ['a numeric description', [{ name: 'a', description: 3 }], /`tools\[0\]\.description`.*3/],
    ['parameters that are not an object', [{ name: 'a', parameters: 'schema' }], /`tools\[0\]\.parameters`.*"schema"/],
  ])('%s: a TypeError naming it, from the Pipeline and from providerCall', (_label, tools, pattern) => {
    const provider = new MockProvider()
    expect(() => new Pipeline({ provider, tools: tools as ToolDefinition[] })).toThrow(TypeError)
    expect(() => new Pipeline({ provider, tools: tools as ToolDefinition[] })).toThrow(pattern)
    expect(() => providerCall(provider, { tools: tools as ToolDefinition[] })).toThrow(pattern)
  })
})
