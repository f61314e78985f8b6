/** `promptline serve`: its command line, and the server it runs (the API, the page, the health check, shutdown). */
import { describe, expect, it } from 'vitest'
import { runNode } from './helpers/run-node.js'
import { startServe } from './helpers/serve-process.js'

function serve(args: string[], env: Record<string, string | undefined> = {}) {
  return runNode('src/cli.ts', ['serve', ...args], { env: { REDIS_URL: undefined, PROMPTLINE_TOKEN: undefined, OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined, ...env } })
}

describe.concurrent('promptline serve: the command line', { timeout: 60_000 }, () => {
  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await serve(['--help'])
    expect(stdout).toMatch(/^Usage: promptline serve \[options\]/)
    for (const flag of ['--port', '--token', '--redis', '--lease-ttl', 'PROMPTLINE_TOKEN']) expect(stdout).toContain(flag)
    expect(code).toBe(0)
  })

  it.each([
    [['--port', '70000'], 'promptline serve: --port must be an integer from 0 to 65535, got "70000"'],
    [['--port', 'http'], 'promptline serve: --port must be an integer from 0 to 65535, got "http"'],
    [['--token', 'short'], 'promptline serve: --token (and PROMPTLINE_TOKEN) must be at least 8 characters, without spaces'],
    [['--lease-ttl', '5', '--redis', 'redis://127.0.0.1:1'], 'promptline serve: --lease-ttl must be an integer from 30 to 2147483647, got "5"'],
    [['--lease-ttl', '1000'], 'promptline serve: --lease-ttl needs --redis (or REDIS_URL)'],
    [['--prefix', 'chat'], 'promptline serve: --prefix needs --redis (or REDIS_URL)'],
    [['--redis', 'localhost:6379'], 'promptline serve: --redis must be a redis:// or rediss:// URL, got "localhost:6379"'],
    [['--provider', 'gemini'], 'promptline serve: --provider must be one of mock, openai, anthropic, got "gemini"'],
    [['--prot', '1'], 'promptline serve: unknown option --prot (did you mean --port?)'],
    [['now'], 'promptline serve: unexpected argument "now"'],
  ])('%j: a clear message and exit code 2', async (args, message) => {
    const { code, stdout, stderr } = await serve(args)
    expect(stdout).toBe('')
    expect(stderr.startsWith(message)).toBe(true)
    expect(code).toBe(2)
  })
})

describe('promptline serve: the server', { timeout: 60_000 }, () => {
  it('serves the page, the API with the token, /healthz, and stops on SIGTERM with exit code 0', async () => {
    const server = await startServe([], { PROMPTLINE_TOKEN: 'env-token-123' })
    try {
      expect(server.output()).toContain('(mock provider, offline; sessions in memory)')
      expect(server.output()).not.toContain('token:')
      const page = await fetch(`${server.url}/`)
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(await page.text()).toContain('<title>promptline chat</title>')
      expect(await (await fetch(`${server.url}/healthz`)).text()).toBe('ok\n')
      expect((await fetch(`${server.url}/api/sessions`)).status).toBe(401)
      const turn = await fetch(`${server.url}/api/sessions/s/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer env-token-123', 'content-type': 'application/json' },
        body: JSON.stringify({ content: "Hi, I'm Alice" }),
      })
      expect(turn.status).toBe(200)
      expect(((await turn.json()) as { storedLength: number }).storedLength).toBe(2)
    } finally {
      await server.stop()
    }
    expect(server.child.exitCode).toBe(0)
  })

  it('without a token, makes one up and prints it; only that token is accepted', async () => {
    const server = await startServe([])
    try {
      await expect.poll(() => /token: (\S+)/.exec(server.output())?.[1]).toBeDefined()
      const token = /token: (\S+)/.exec(server.output())?.[1] as string
      expect(token.length).toBeGreaterThanOrEqual(20)
      expect((await fetch(`${server.url}/api/sessions`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
      expect((await fetch(`${server.url}/api/sessions`, { headers: { authorization: 'Bearer env-token-123' } })).status).toBe(401)
    } finally {
      await server.stop()
    }
  })
})
