/**
 * The `promptline` bin as installed users get it: package.json's `bin` after
 * `npm run build`, a plain ES module run by node (no tsx), with its shebang.
 */
import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from './helpers/run-node.js'

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> }

function runBuilt(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
  for (const key of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'REDIS_URL']) delete env[key]
  const child = spawn(process.execPath, [join(ROOT, manifest.bin.promptline ?? ''), ...args], { cwd: ROOT, env })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  child.stdin.end(input)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('the built promptline bin', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: ROOT })
  }, 180_000)

  it('is dist/…/cli.js with a node shebang', () => {
    const bin = manifest.bin.promptline
    expect(bin).toMatch(/^\.\/dist\/.*cli\.js$/)
    expect(readFileSync(join(ROOT, bin as string), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node')
  })

  it('prints its version and chats from piped stdin', async () => {
    expect(await runBuilt(['--version'], '')).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' })
    const chat = await runBuilt(['chat'], "Hi, I'm Alice\nWhat is my name?\n")
    expect(chat).toEqual({
      code: 0,
      stdout: "assistant> Nice to meet you, Alice! I'll remember that.\nassistant> Your name is Alice.\n",
      stderr: '',
    })
  })
})
