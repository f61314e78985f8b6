import { MockProvider } from '../providers/mock.js'
import type { Provider } from '../types.js'
import { demoReply } from './demo-reply.js'
import { UsageError } from './usage.js'

/**
 * The providers `--provider` accepts. Adding one is one name here and one case in
 * `createProvider` (its SDK loaded there, with `import()`, only when chosen).
 */
export const PROVIDER_NAMES = ['mock', 'openai', 'anthropic'] as const
export type ProviderName = (typeof PROVIDER_NAMES)[number]

export interface ProviderChoice {
  name: ProviderName | undefined
  model: string | undefined
  baseURL: string | undefined
  /** The model asked for when `--model` is not given. */
  defaultModel: string
}

export interface ChosenProvider {
  provider: Provider
  /** For the banner: "mock provider, offline", "openai gpt-4o-mini at http://…/v1". */
  description: string
}

/** The model `--provider anthropic` asks for when `--model` is not given. */
export const DEFAULT_ANTHROPIC_MODEL = 'claude-haiku-4-5'

/**
 * Without `--provider`: Claude when `ANTHROPIC_API_KEY` is set, else OpenAI when the
 * environment or `--base-url` configures it, else the offline mock.
 */
export function providerName(choice: ProviderChoice, env: NodeJS.ProcessEnv): ProviderName {
  if (choice.name !== undefined) return choice.name
  if (env.ANTHROPIC_API_KEY && choice.baseURL === undefined) return 'anthropic'
  return choice.baseURL !== undefined || env.OPENAI_API_KEY || env.OPENAI_BASE_URL ? 'openai' : 'mock'
}

export async function createProvider(choice: ProviderChoice, env: NodeJS.ProcessEnv): Promise<ChosenProvider> {
  const name = providerName(choice, env)
  switch (name) {
    case 'mock':
      return {
        provider: new MockProvider({ reply: demoReply, ...(choice.model === undefined ? {} : { model: choice.model }) }),
        description: 'mock provider, offline',
      }
    case 'openai': {
      const apiKey = env.OPENAI_API_KEY || undefined
      const baseURL = choice.baseURL ?? (env.OPENAI_BASE_URL || undefined)
      if (apiKey === undefined && baseURL === undefined) {
        throw new UsageError('--provider openai needs OPENAI_API_KEY, or --base-url (or OPENAI_BASE_URL) for a local server')
      }
      const model = choice.model ?? choice.defaultModel
      // Loaded only when chosen: the offline demo never loads the `openai` package.
      // Without a key, the provider sends a placeholder (local servers ignore it).
      const { OpenAIProvider } = await import('../providers/openai.js')
      return {
        provider: new OpenAIProvider({ model, apiKey, baseURL }),
        description: `openai ${model}${baseURL === undefined ? '' : ` at ${withoutCredentials(baseURL)}`}`,
      }
    }
    case 'anthropic': {
      const apiKey = env.ANTHROPIC_API_KEY || undefined
      const baseURL = choice.baseURL ?? (env.ANTHROPIC_BASE_URL || undefined)
      if (apiKey === undefined && baseURL === undefined) {
        throw new UsageError('--provider anthropic needs ANTHROPIC_API_KEY, or --base-url (or ANTHROPIC_BASE_URL) for a gateway')
      }
      const model = choice.model ?? DEFAULT_ANTHROPIC_MODEL
      // Loaded only when chosen, like the OpenAI SDK above.
      const { AnthropicProvider } = await import('../providers/anthropic.js')
      return {
        provider: new AnthropicProvider({ model, maxTokens: 1024, apiKey, baseURL }),
        description: `anthropic ${model}${baseURL === undefined ? '' : ` at ${withoutCredentials(baseURL)}`}`,
      }
    }
  }
}

/** A URL fit for the screen: any user name or password in it removed. */
export function withoutCredentials(url: string): string {
  const parsed = new URL(url)
  parsed.username = ''
  parsed.password = ''
  return parsed.href
}
