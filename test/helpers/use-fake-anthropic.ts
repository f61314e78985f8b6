/** The fake Anthropic server's lifecycle for a test file or `describe` (see `useFakeOpenAI`). */
import { afterEach } from 'vitest'
import { startFakeAnthropic } from './fake-anthropic-server.js'
import type { FakeAnthropicOptions, FakeAnthropicServer } from './fake-anthropic-server.js'
import { suiteResource } from './suite.js'

export const ANTHROPIC_KEY = 'sk-ant-test-SECRET-5678'

/** Started in `beforeAll`, `reset()` after each test, closed in `afterAll`; read it in tests and hooks. */
export function useFakeAnthropic(options: FakeAnthropicOptions = {}): FakeAnthropicServer {
  const current = suiteResource('useFakeAnthropic()', () => startFakeAnthropic(options), (server) => server.close())
  afterEach(() => {
    current().reset()
  })
  return {
    get baseURL() {
      return current().baseURL
    },
    get port() {
      return current().port
    },
    get requests() {
      return current().requests
    },
    enqueue: (...behaviours) => current().enqueue(...behaviours),
    setFallback: (behaviour) => current().setFallback(behaviour),
    waitForRequests: (count, timeoutMs) => current().waitForRequests(count, timeoutMs),
    reset: () => current().reset(),
    close: () => current().close(),
  }
}
