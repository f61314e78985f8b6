/**
 * Every runtime name an entry point exports is a semver promise: this list changes only
 * on purpose. (test/package.test.ts checks what each entry loads, on the packed tarball.)
 */
import { describe, expect, it } from 'vitest'

const ENTRIES: Record<string, () => Promise<object>> = {
  promptline: () => import('../src/index.js'),
  'promptline/redis': () => import('../src/redis.js'),
  'promptline/openai': () => import('../src/openai.js'),
  'promptline/anthropic': () => import('../src/anthropic.js'),
  'promptline/ai-sdk': () => import('../src/ai-sdk.js'),
  'promptline/http': () => import('../src/http.js'),
  'promptline/middleware': () => import('../middleware/index.js'),
  'promptline/utils': () => import('../src/utils.js'),
  'promptline/testing': () => import('../src/testing.js'),
}

const EXPECTED: Record<string, string[]> = {
  promptline: [
    'AbortError',
    'BUILT_IN_MIDDLEWARE',
    'ContextOverflowError',
    'DEFAULT_PRICING',
    'FallbackProvider',
    'LeaseLostError',
    'MemoryStore',
    'Pipeline',
    'PipelineClosedError',
    'PipelineEmitter',
    'PromptlineError',
    'ProviderError',
    'SessionBusyError',
    'SessionExistsError',
    'SessionNotFoundError',
    'StateCorruptError',
    'StateLoadError',
    'StateSaveError',
    'StoreClosedError',
    'ViewInvariantError',
    'compose',
    'getTokenCounter',
    'isRetryableProviderError',
    'named',
  ],
  'promptline/anthropic': ['AnthropicProvider'],
  'promptline/ai-sdk': ['AISDKProvider'],
  'promptline/http': ['DEFAULT_MAX_BODY_BYTES', 'HttpProblem', 'bearerAuth', 'createHandler', 'toNodeListener'],
  'promptline/redis': ['REDIS_CLIENT_OPTIONS', 'RedisStore', 'RedisStoreError'],
  'promptline/openai': ['OpenAIProvider'],
  'promptline/middleware': [
    'DEFAULT_LOAD_RETRY',
    'DEFAULT_SAVE_RETRY',
    'DEFAULT_SUMMARY_AFTER',
    'DEFAULT_SUMMARY_PROMPT',
    'DEFAULT_SUMMARY_TIMEOUT_MS',
    'DEFAULT_TOOL_RESULTS_KEEP_LAST',
    'DEFAULT_TOOL_RESULT_PLACEHOLDER',
    'EXACT_OVERFLOW_TOKENS',
    'SUMMARY_HEADER',
    'SUMMARY_MESSAGE_CHARS',
    'contextWindow',
    'isSummaryMessage',
    'providerCall',
    'rollingSummary',
    'stateLoad',
    'stateSave',
    'tokenTruncation',
    'toolResults',
  ],
  'promptline/utils': [
    'FORCED_CUT_MARGIN_TOKENS',
    'MAX_METADATA_BYTES',
    'MAX_METADATA_DEPTH',
    'MAX_SESSION_ID_BYTES',
    'MAX_TIMER_MS',
    'MIN_TOKENS_PER_MESSAGE',
    'ROLES',
    'SLICE_CHARS',
    'TOKEN_CACHE_BYTES',
    'TOKEN_CACHE_KEY_CHARS',
    'TOOL_CALL_OVERHEAD_TOKENS',
    'assertDuration',
    'assertFunction',
    'assertKnownChatModel',
    'assertKnownKeys',
    'assertMessages',
    'assertNonEmptyString',
    'assertNonNegativeInteger',
    'assertNonNegativeNumber',
    'assertOneOf',
    'assertOptionsObject',
    'assertPositiveInteger',
    'assertPricingTable',
    'assertProvider',
    'assertSessionId',
    'assertStore',
    'assertToolDefinitions',
    'chunkProblem',
    'copyMessage',
    'copyMessages',
    'copyMetadata',
    'costOf',
    'createTokenCounter',
    'isKnownChatModel',
    'isRetryableStoreError',
    'messageProblem',
    'resolvePrice',
    'responseProblem',
    'resultOf',
    'startOnUser',
    'trimView',
    'turnAbortError',
    'viewProblem',
  ],
  'promptline/testing': ['MockProvider'],
}

describe('entry points', () => {
  it.each(Object.keys(ENTRIES))('%s exports exactly its documented names', async (entry) => {
    const module = await ENTRIES[entry]!()
    expect(Object.keys(module).sort()).toEqual(EXPECTED[entry])
  })

  it('no internal helper leaks from the root', async () => {
    const root = await import('../src/index.js')
    for (const internal of ['assertOneOf', 'show', 'pinnedCount', 'unitStarts', 'TOKEN_CACHE_SIZE', 'REDIS_CLIENT_OPTIONS', 'OpenAIProvider', 'RedisStore', 'AISDKProvider']) {
      expect(Object.keys(root), internal).not.toContain(internal)
    }
  })
})
