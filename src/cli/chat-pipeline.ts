/**
 * How `promptline chat` builds its pipeline: the one place that turns the command
 * line into `PipelineOptions`.
 */
import { Pipeline, type PipelineOptions } from '../pipeline.js'
import { isKnownChatModel } from '../tokens.js'
import type { Provider, StateStore } from '../types.js'
import { MockProvider } from '../providers/mock.js'
import { DEFAULT_MODEL, type CliOptions } from './args.js'
import { demoSummary } from './demo-summary.js'

/** What of the command line shapes the pipeline (`chat` and `serve` share it). */
export type PipelineChoices = Pick<CliOptions, 'model' | 'system' | 'maxMessages' | 'maxTokens' | 'summaryAfter'>

export function createChatPipeline(options: PipelineChoices, provider: Provider, store: StateStore): Pipeline {
  return new Pipeline(pipelineOptions(options, provider, store))
}

function pipelineOptions(options: PipelineChoices, provider: Provider, store: StateStore): PipelineOptions {
  const tokenModel = isKnownChatModel(options.model) ? options.model : DEFAULT_MODEL
  return {
    provider,
    store,
    ...(options.system === undefined ? {} : { systemPrompt: options.system }),
    ...(options.maxMessages === undefined ? {} : { contextWindow: { maxMessages: options.maxMessages } }),
    ...(options.maxTokens === undefined ? {} : { tokenLimit: { maxTokens: options.maxTokens, model: tokenModel } }),
    // Offline, a deterministic condensation; with a real model, the same model summarises.
    ...(options.summaryAfter === undefined
      ? {}
      : { summary: { after: options.summaryAfter, ...(provider instanceof MockProvider ? { provider: new MockProvider({ reply: demoSummary, name: 'demo-summariser' }) } : {}) } }),
  }
}
