/**
 * The published package as users get it: built, packed with `npm pack`, installed from
 * the tarball into a temporary project (with `openai` of majors other than the one
 * promptline develops against, and ioredis), then imported, compiled under strict
 * settings for NodeNext and bundler resolution, required from CommonJS, bundled with
 * esbuild and run. The programs are in test/fixtures/consumer/.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from './helpers/run-node.js'
import { startFakeOpenAI, type FakeOpenAIServer } from './helpers/fake-openai-server.js'
import { redisSkipReason, useStandaloneRedis } from './helpers/redis-server.js'

const exec = promisify(execFile)
const FIXTURES = join(ROOT, 'test/fixtures/consumer')
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const ENTRIES = ['promptline', 'promptline/redis', 'promptline/openai', 'promptline/anthropic', 'promptline/ai-sdk', 'promptline/http', 'promptline/middleware', 'promptline/utils', 'promptline/testing']

const STRICT = {
  target: 'ES2022',
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  verbatimModuleSyntax: false,
  skipLibCheck: true,
  types: ['node'],
}

interface Packed {
  work: string
  consumer: string
  tarball: string
  files: string[]
}

async function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024, timeout: 180_000 })
    return stdout
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error })
  }
}

function node(args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  return run(process.execPath, args, cwd, env)
}

/** Builds into a staging copy, packs it, and installs the tarball into a fresh project. */
async function packAndInstall(): Promise<Packed> {
  const work = mkdtempSync(join(tmpdir(), 'promptline-package-'))
  const stage = join(work, 'stage')
  mkdirSync(stage)
  // What package.json's `files` names, except dist/, which is built into the stage.
  const { files } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }
  for (const entry of ['package.json', ...files.filter((file) => file !== 'dist')]) {
    cpSync(join(ROOT, entry), join(stage, entry), { recursive: true })
  }
  await node([TSC, '-p', 'tsconfig.build.json', '--outDir', join(stage, 'dist')], ROOT)
  const [report] = JSON.parse(await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], stage)) as [
    { filename: string; files: { path: string }[] },
  ]
  const consumer = join(work, 'consumer')
  cpSync(FIXTURES, consumer, { recursive: true })
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  await run(
    NPM,
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      join(work, report.filename),
      // promptline develops against openai 6 and ioredis 5: the user's own are other majors.
      'openai@7',
      'openai-other-major@npm:openai@5',
      'ioredis@6',
      '@anthropic-ai/sdk@1',
      '@types/node@20',
    ],
    consumer,
  )
  return { work, consumer, tarball: join(work, report.filename), files: report.files.map((file) => file.path) }
}

/** The module files `import(entry)` loads, recorded by test/fixtures/consumer/record-imports.mjs. */
async function modulesLoadedBy(entry: string, cwd: string): Promise<string[]> {
  const stdout = await node(['--import', './record-imports.mjs', '--input-type=module', '-e', `await import(${JSON.stringify(entry)})`], cwd)
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as string[]
}

const fromPackage = (files: string[], name: string) => files.filter((file) => file.includes(`/node_modules/${name}/`))

describe('the packed package, installed from its tarball', { timeout: 120_000 }, () => {
  let packed: Packed
  let server: FakeOpenAIServer

  beforeAll(async () => {
    ;[packed, server] = await Promise.all([packAndInstall(), startFakeOpenAI()])
  }, 300_000)

  afterAll(async () => {
    await server?.close()
    if (packed !== undefined) rmSync(packed.work, { recursive: true, force: true })
  })

  it('ships a LICENSE, the docs and the built entries, and every source map carries its sources', () => {
    const { files } = packed
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'docs/providers.md', 'docs/redis.md']))
    const manifest = readFileSync(join(packed.consumer, 'node_modules/promptline/package.json'), 'utf8')
    expect(manifest).not.toContain('promptline-source')
    const exportsMap = (JSON.parse(manifest) as { exports: Record<string, string | Record<string, string>> }).exports
    const targets = Object.values(exportsMap).flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target)))
    for (const target of targets) expect(files, target).toContain(target.replace(/^\.\//, ''))
    expect(files.some((file) => file.startsWith('src/') || file.startsWith('test/'))).toBe(false)
    const maps = files.filter((file) => file.endsWith('.map'))
    expect(maps.length).toBeGreaterThan(0)
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(packed.consumer, 'node_modules/promptline', map), 'utf8')) as {
        sources: string[]
        sourcesContent?: (string | null)[]
      }
      expect(sourcesContent?.length, map).toBe(sources.length)
      expect(sourcesContent?.every((content) => typeof content === 'string' && content.length > 0), map).toBe(true)
    }
  })

  it('README and docs link only to files that ship', () => {
    const problems: string[] = []
    for (const doc of packed.files.filter((file) => file.endsWith('.md'))) {
      const text = readFileSync(join(packed.consumer, 'node_modules/promptline', doc), 'utf8')
      for (const [, target = ''] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue
        const resolved = join(doc, '..', target).replace(/\/$/, '')
        if (!packed.files.some((file) => file === resolved || file.startsWith(`${resolved}/`))) problems.push(`${doc} → ${target}`)
      }
    }
    expect(problems).toEqual([])
  })

  it('importing promptline loads neither openai, @anthropic-ai/sdk nor ioredis, nor a tokenizer encoding', async () => {
    const loaded = await modulesLoadedBy('promptline', packed.consumer)
    expect(fromPackage(loaded, 'promptline').length).toBeGreaterThan(5)
    expect(fromPackage(loaded, 'openai')).toEqual([])
    expect(fromPackage(loaded, 'ioredis')).toEqual([])
    expect(fromPackage(loaded, '@anthropic-ai/sdk')).toEqual([])
    expect(loaded.filter((file) => file.includes('/gpt-tokenizer/') && /\/(model|bpeRanks)\//.test(file))).toEqual([])
  })

  it.each([
    ['promptline/redis', 'ioredis', 'openai'],
    ['promptline/openai', 'openai', 'ioredis'],
    ['promptline/anthropic', '@anthropic-ai/sdk', 'openai'],
    // Nothing of the AI SDK is installed here: the entry must load (and type-check) without it.
    ['promptline/ai-sdk', undefined, '@anthropic-ai/sdk'],
    ['promptline/http', undefined, 'ioredis'],
    ['promptline/middleware', undefined, 'openai'],
    ['promptline/utils', undefined, 'openai'],
    ['promptline/testing', undefined, 'ioredis'],
  ])('importing %s loads %s and not %s', async (entry, wanted, unwanted) => {
    const loaded = await modulesLoadedBy(entry, packed.consumer)
    if (wanted !== undefined) expect(fromPackage(loaded, wanted).length).toBeGreaterThan(0)
    expect(fromPackage(loaded, unwanted)).toEqual([])
    expect(fromPackage(loaded, entry === 'promptline/redis' ? 'openai' : 'ioredis')).toEqual([])
  })

  it('runs a plain ESM program, with and without a token limit', async () => {
    expect(JSON.parse(await node(['plain.mjs'], packed.consumer))).toEqual({ first: 'echo: hello', stored: 4, tokens: null })
    expect(JSON.parse(await node(['plain.mjs', '--token-limit'], packed.consumer))).toEqual({ first: 'echo: hello', stored: 4, tokens: expect.any(Number) })
  })

  it('answers require() from CommonJS with the ES module (Node 20.19+)', async () => {
    expect(JSON.parse(await node(['require.cjs'], packed.consumer))).toEqual({ reply: 'hi from cjs', base: 'function' })
    for (const entry of ENTRIES) {
      const keys = await node(['-e', `console.log(Object.keys(require(${JSON.stringify(entry)})).length)`], packed.consumer)
      expect(Number(keys), entry).toBeGreaterThan(0)
    }
  })

  it('compiles under strict NodeNext, bundler and node10 resolution with the user’s own openai 7 and 5 clients, and runs', async () => {
    const config = (name: string, compilerOptions: object, files: string[]) =>
      writeFileSync(join(packed.consumer, name), JSON.stringify({ compilerOptions: { ...STRICT, ...compilerOptions }, files }))
    // openai's own declarations take most of a full check: checked once, for promptline's only.
    config('tsconfig.declarations.json', { module: 'nodenext', skipLibCheck: false, noEmit: true }, ['entries.ts'])
    config('tsconfig.nodenext.json', { module: 'nodenext', outDir: 'out' }, ['typed.ts', 'typed-require.cts'])
    config('tsconfig.bundler.json', { module: 'esnext', moduleResolution: 'bundler', noEmit: true }, ['typed.ts', 'entries.ts'])
    // TypeScript's legacy resolution ignores `exports`: typesVersions leads it to the same files.
    config('tsconfig.node10.json', { module: 'commonjs', moduleResolution: 'node10', noEmit: true }, ['entries.ts'])
    const projects = ['tsconfig.declarations.json', 'tsconfig.nodenext.json', 'tsconfig.bundler.json', 'tsconfig.node10.json']
    await Promise.all(projects.map((project) => node([TSC, '-p', project], packed.consumer)))
    const output = JSON.parse(await node(['out/typed.js'], packed.consumer, { FAKE_OPENAI_URL: server.baseURL })) as Record<string, unknown>
    expect(output).toEqual({
      replies: ['openai:Echo: ping:user', 'openai:Echo: ping:user'],
      tokens: true,
      view: 1,
      mock: 'mock',
      chained: 'chained',
      redis: true,
      error: true,
    })
    const keys = server.requests.map((request) => request.headers.authorization)
    expect(keys).toEqual(expect.arrayContaining(['Bearer sk-user', 'Bearer sk-other']))
    // A CommonJS TypeScript module: compiled to require('promptline'), and it runs.
    expect(readFileSync(join(packed.consumer, 'out/typed-require.cjs'), 'utf8')).toContain('require("promptline")')
    expect((await node(['out/typed-require.cjs'], packed.consumer)).trim()).toBe('hi from cts')
  })

  const redisSkip = redisSkipReason('standalone')
  if (redisSkip !== undefined) console.warn(`[redis] skipping the packed RedisStore test: ${redisSkip}`)
  it.skipIf(redisSkip !== undefined)('runs RedisStore on the user’s own ioredis 6 client', async () => {
    const redis = await useStandaloneRedis()
    try {
      const output = JSON.parse(await node(['redis.mjs'], packed.consumer, { REDIS_URL: redis.url })) as unknown
      expect(output).toEqual({ stored: 4, loaded: 4, reply: 'stored in redis' })
    } finally {
      await redis.stop()
    }
  })

  it('bundles with esbuild (node, esm) into programs that run, with and without a token limit', async () => {
    const { build } = await import('esbuild')
    const result = await build({
      absWorkingDir: packed.consumer,
      entryPoints: ['plain.mjs'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: 'bundle/plain.mjs',
      logLevel: 'silent',
    })
    expect(result.errors).toEqual([])
    // Moved away from node_modules, the bundle can only run on what it contains.
    const alone = join(packed.work, 'bundle-alone')
    cpSync(join(packed.consumer, 'bundle'), alone, { recursive: true })
    expect(JSON.parse(await node(['plain.mjs'], alone))).toEqual({ first: 'echo: hello', stored: 4, tokens: null })
    expect(JSON.parse(await node(['plain.mjs', '--token-limit'], alone))).toEqual({ first: 'echo: hello', stored: 4, tokens: expect.any(Number) })
    const bundle = readFileSync(join(alone, 'plain.mjs'), 'utf8')
    expect(bundle).not.toContain('ioredis')
    expect(bundle).not.toMatch(/openai\/(?:core|resources)/)
  })
})
