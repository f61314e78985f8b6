/**
 * The chat page of `promptline serve` in a real headless Chromium (Debian's
 * package, driven by playwright-core), the server streaming from a fake OpenAI
 * server that sends a word every 30 ms: type a message, see the reply stream in,
 * reload and see the history, and a wrong token told plainly.
 * Run with `npm run test:browser` (needs /usr/bin/chromium or CHROMIUM_PATH).
 */
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startServe, type ServeProcess } from '../helpers/serve-process.js'
import { startFakeOpenAI, type FakeOpenAIServer } from '../helpers/fake-openai-server.js'

const TOKEN = 'browser-test-token'
const executablePath = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path))

describe('the chat page in Chromium', () => {
  let serve: ServeProcess
  let openai: FakeOpenAIServer
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    if (executablePath === undefined) throw new Error('Chromium is not installed: apt-get install -y chromium, or set CHROMIUM_PATH')
    // A model that streams a word every 30 ms, so the page's streaming can be seen.
    openai = await startFakeOpenAI({ fallback: { kind: 'reply', chunkDelayMs: 30 } })
    serve = await startServe(['--token', TOKEN, '--base-url', openai.baseURL])
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
    page = await browser.newPage()
  })
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
    await openai?.close()
  })

  it('signs in, streams a reply, and shows the history after a reload', async () => {
    await page.goto(`${serve.url}/`)
    await expect.poll(() => page.textContent('#status')).toContain('Enter the token')
    await page.fill('#token', TOKEN)
    await page.click('#signin')
    await expect.poll(() => page.textContent('#status')).toContain('is new')

    // Watch the reply grow: more than one distinct partial text while it streams.
    // (A string: it runs in the page, where the DOM is, not in this Node process.)
    await page.evaluate(`
      window.seen = []
      new MutationObserver(() => {
        const reply = document.querySelector('.msg.assistant:last-child')
        if (reply && reply.textContent) window.seen.push(reply.textContent)
      }).observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true })
    `)
    await page.fill('#input', "Hi, I'm Alice")
    await page.press('#input', 'Enter')
    await page.waitForSelector('.msg.assistant:not([data-streaming])')
    const reply = (await page.textContent('.msg.assistant')) ?? ''
    expect(reply).toBe("Echo: Hi, I'm Alice")
    const partials = (await page.evaluate('window.seen')) as string[]
    expect(new Set(partials).size).toBeGreaterThan(1)
    expect(partials.every((text) => reply.startsWith(text))).toBe(true)

    await page.reload()
    await page.waitForSelector('.msg.assistant')
    expect(await page.$$eval('.msg', (nodes) => nodes.map((n) => [n.getAttribute('data-role'), n.textContent]))).toEqual([
      ['user', "Hi, I'm Alice"],
      ['assistant', reply],
    ])
    expect(await page.textContent('#status')).toContain('2 messages')
  })

  it('a wrong token shows a clear message', async () => {
    const other = await browser.newPage()
    await other.goto(`${serve.url}/`)
    await other.fill('#token', 'not-the-right-token')
    await other.click('#signin')
    await expect.poll(() => other.textContent('#status')).toContain('The token was not accepted')
    expect(await other.getAttribute('#status', 'class')).toBe('error')
    await other.close()
  })
})
