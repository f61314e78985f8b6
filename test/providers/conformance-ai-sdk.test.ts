/**
 * AISDKProvider through the shared provider conformance suite, on the AI SDK's own mock
 * models: `MockLanguageModelV2` (AI SDK 5) and `MockLanguageModelV3` (AI SDK 6).
 */
import { AISDKProvider } from '../../src/providers/ai-sdk.js'
import { scriptedModel, type MockVersion, type ScriptedModelReply } from '../helpers/ai-sdk-models.js'
import { describeProviderConformance } from './conformance.js'
import type { ReceivedRequest, ScriptedReply } from './conformance.js'

function reply(scripted: ScriptedReply): ScriptedModelReply {
  const reasoning = (text: string | undefined) =>
    text === undefined ? {} : { reasoning: [{ text, providerMetadata: { 'mock-provider': { signature: `sig-${text.length}` } } }] }
  switch (scripted.kind) {
    case 'text':
      return { text: scripted.text, ...(scripted.usage === undefined ? {} : { usage: scripted.usage }), ...reasoning(scripted.reasoning) }
    case 'toolCalls':
      return { toolCalls: scripted.calls.map((c) => ({ id: c.id, name: c.name, input: c.arguments })), ...reasoning(scripted.reasoning) }
    case 'failMidStream':
      return { text: scripted.text, errorAfterDeltas: scripted.afterDeltas }
    case 'slow':
      return { text: scripted.text, delayMs: scripted.delayMs }
    case 'stall':
      return { stall: true }
  }
}

type Part = { type?: string; toolCallId?: string; text?: string }

for (const version of ['v2', 'v3'] as MockVersion[]) {
  const backend = scriptedModel(version)
  describeProviderConformance({
    name: `AISDKProvider (${version === 'v2' ? 'MockLanguageModelV2, AI SDK 5' : 'MockLanguageModelV3, AI SDK 6'})`,
    capabilities: { http: false, timeout: true, reasoning: true },
    create: (options = {}) => new AISDKProvider(backend.model, options),
    script: (...replies) => backend.script(...replies.map(reply)),
    received: () =>
      backend.calls.map((call): ReceivedRequest => {
        const parts = call.prompt.flatMap((m) => (Array.isArray(m.content) ? (m.content as Part[]) : []))
        return {
          toolResultIds: parts.filter((p) => p.type === 'tool-result').map((p) => p.toolCallId ?? ''),
          reasoningSent: parts.filter((p) => p.type === 'reasoning').map((p) => p.text ?? ''),
        }
      }),
    badOptions: [
      ['model as a string', () => new AISDKProvider('openai/gpt-4o' as never), /`model` to be an AI SDK language model object.*got the string `"openai\/gpt-4o"`/],
      ['model', () => new AISDKProvider({} as never), /`model` to be an AI SDK language model/],
      ['model of spec v1', () => new AISDKProvider({ ...backend.model, doGenerate: () => undefined, doStream: () => undefined, specificationVersion: 'v1' } as never), /`model.specificationVersion` to be one of 'v2', 'v3', 'v4'.*got `"v1"`/],
      ['timeoutMs', () => new AISDKProvider(backend.model, { timeoutMs: 0 }), /`timeoutMs`/],
      ['timeOut (a misspelling)', () => new AISDKProvider(backend.model, { timeOut: 5 } as never), /Unknown option `timeOut`; did you mean `timeoutMs`\?/],
      ['name', () => new AISDKProvider(backend.model, { name: '' }), /`name`/],
      ['providerOptions', () => new AISDKProvider(backend.model, { providerOptions: { openai: 'x' } as never }), /`providerOptions` to be an object of objects/],
      ['options', () => new AISDKProvider(backend.model, 'x' as never), /`options` to be an object, got a string/],
    ],
  })
}
