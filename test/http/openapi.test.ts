/**
 * docs/openapi.json describes what the handler does: every route the handler serves
 * is in it (and no other), and real requests answer with statuses it documents.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../../src/pipeline.js'
import { MockProvider } from '../../src/providers/mock.js'
import { bearerAuth, createHandler } from '../../src/http.js'
import { ROOT } from '../helpers/run-node.js'
import { serveHandler, type RunningServer } from '../helpers/http-server.js'

interface Operation {
  responses: Record<string, unknown>
}
const spec = JSON.parse(readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, Operation>> }
const documented = (path: string, method: string) => spec.paths[path]?.[method.toLowerCase()]

describe('docs/openapi.json', () => {
  let server: RunningServer
  let pipeline: Pipeline
  beforeAll(async () => {
    pipeline = new Pipeline({ provider: new MockProvider() })
    server = await serveHandler(createHandler(pipeline, { authenticate: bearerAuth({ 'openapi-token-1': 'u' }), onError: () => {} }))
  })
  afterAll(async () => {
    await server.close()
    await pipeline.shutdown()
  })

  it('documents exactly the routes the handler serves', () => {
    const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((key) => key !== 'parameters').map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(operations.sort()).toEqual(
      ['GET /sessions', 'DELETE /sessions/{id}', 'GET /sessions/{id}/messages', 'POST /sessions/{id}/messages', 'POST /sessions/{id}/fork'].sort(),
    )
  })

  it.each([
    ['POST', '/sessions/{id}/messages', '/sessions/a/messages', { content: 'hi' }],
    ['POST', '/sessions/{id}/messages', '/sessions/a/messages', { content: 42 }],
    ['POST', '/sessions/{id}/messages', '/sessions/a/messages', { content: 'hi', stream: true }],
    ['GET', '/sessions/{id}/messages', '/sessions/a/messages?last=1', undefined],
    ['GET', '/sessions/{id}/messages', '/sessions/none/messages', undefined],
    ['POST', '/sessions/{id}/fork', '/sessions/a/fork', { to: 'b' }],
    ['POST', '/sessions/{id}/fork', '/sessions/a/fork', { to: 'b' }],
    ['POST', '/sessions/{id}/fork', '/sessions/none/fork', { to: 'c' }],
    ['GET', '/sessions', '/sessions?limit=2', undefined],
    ['DELETE', '/sessions/{id}', '/sessions/b', undefined],
    ['DELETE', '/sessions/{id}', '/sessions/b', undefined],
    ['GET', '/sessions', '/sessions', null],
  ])('%s %s (%s) answers a documented status', async (method, template, path, body) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (body !== null) headers.authorization = 'Bearer openapi-token-1'
    const response = await fetch(`${server.url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) })
    await response.arrayBuffer()
    const operation = documented(template, method)
    expect(operation).toBeDefined()
    expect(Object.keys(operation?.responses ?? {})).toContain(String(response.status))
  })
})
