/** `npm start`: the CLI spawned with piped stdin, as a user would pipe messages into it. */
import { describe, expect, it } from 'vitest'
import { runNode, type RunOptions } from './helpers/run-node.js'
import { useFakeOpenAI } from './helpers/pipeline-openai.js'

/** The CLI offline: OpenAI settings from the developer's environment must not leak in. */
function cli(args: string[], input: string, env: RunOptions['env'] = {}) {
  return runNode('src/cli.ts', args, {
    input,
    env: { OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined, ...env },
  })
}

const lines = (text: string) => text.split('\n').filter((line) => line.length > 0)

// Each case spawns a node process (under a second alone, slower side by side on a small CI machine).
describe.concurrent('npm start (offline, piped stdin)', { timeout: 60_000 }, () => {
  it('chats one message a line, remembers the name across turns, and exits 0 at the end of input', async () => {
    const { code, stdout, stderr } = await cli([], "Hi, I'm Alice\nWhat is my name?\n")
    expect(stderr).toBe('')
    expect(lines(stdout)).toEqual(["assistant> Nice to meet you, Alice! I'll remember that.", 'assistant> Your name is Alice.'])
    expect(code).toBe(0)
  })

  it('reads a last line without a newline and skips blank lines', async () => {
    const { code, stdout } = await cli([], "\n  \nI'm Bob\n\nwho am I")
    expect(lines(stdout)).toEqual(["assistant> Nice to meet you, Bob! I'll remember that.", 'assistant> Your name is Bob.'])
    expect(code).toBe(0)
  })

  it('forgets what --max-messages trims out of the view (the store keeps it)', async () => {
    const input = "Hi, I'm Alice\nNice weather\nIt is sunny\nWhat is my name?\n/history\n"
    const { code, stdout } = await cli(['--max-messages', '2'], input)
    expect(stdout).toContain("assistant> I don't know your name: it is not in the 1 earlier message(s) I can see.")
    expect(stdout).toContain('session "default", 8 stored message(s):')
    expect(stdout).toContain(`  1. user "Hi, I'm Alice"`)
    expect(code).toBe(0)
  })

  it('--trace prints each middleware timing and what the window kept and dropped', async () => {
    const input = "Hi, I'm Alice\nNice weather\nWhat is my name?\n"
    const { code, stdout, stderr } = await cli(['--trace', '--max-messages', '3', '--system', 'Be brief.'], input)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const trace = lines(stdout).filter((line) => line.startsWith('[trace]'))
    const timings = trace.filter((line) => line.startsWith('[trace] middleware, ms own / incl. later: '))
    expect(timings).toHaveLength(3)
    for (const line of timings) {
      expect(line).toMatch(
        /state-load [\d.]+\/[\d.]+, cli-trace [\d.]+\/[\d.]+, context-window [\d.]+\/[\d.]+, token-truncation [\d.]+\/[\d.]+, provider-call [\d.]+\/[\d.]+, state-save [\d.]+\/[\d.]+$/,
      )
    }
    // Third turn: 4 stored messages, the newest 3 loaded; with the input that is one too many.
    expect(trace).toContain('[trace] state-load: loaded 3 stored message(s) (asked for the newest 3)')
    expect(trace).toContain('[trace] context-window (max 3 messages): kept 4, dropped 1')
    expect(trace).toContain(`[trace]   dropped: assistant "Nice to meet you, Alice! I'll remember …"`)
    expect(trace).toContain(
      '[trace] sent 4 message(s): system "Be brief." | user "Nice weather" | assistant "You said \\"Nice weather\\", Alice. I can s…" | user "What is my name?"',
    )
    expect(trace).toContain('[trace] state-save: appended 2 message(s) in 1 attempt(s); the session now has 6')
    expect(trace.some((line) => /^\[trace\] usage: \d+ input \+ \d+ output tokens, cost unknown \(no price for mock-model\)$/.test(line))).toBe(true)
    // The reply still comes first, then its trace.
    expect(lines(stdout)[0]).toBe("assistant> Nice to meet you, Alice! I'll remember that.")
  })

  it('--trace with --max-tokens shows the token budget at work', async () => {
    const long = 'This message is deliberately long so that it takes a good number of tokens to say. '.repeat(3)
    const { code, stdout } = await cli(['--trace', '--max-tokens', '120'], `${long}\n${long}\nshort\n`)
    expect(code).toBe(0)
    const truncations = lines(stdout).filter((line) => line.startsWith('[trace] token-truncation (max 120 tokens): '))
    expect(truncations).toHaveLength(3)
    expect(truncations[2]).toMatch(/kept \d+, dropped [1-9]\d*, \d+ tokens$/)
    for (const line of truncations) expect(Number(/(\d+) tokens$/.exec(line)?.[1])).toBeLessThanOrEqual(120)
    expect(stdout).toMatch(/\[trace\] {3}dropped: user "This message is deliberately long so th…"/)
  })

  it('slash commands: /fork copies the session and switches to the copy; sessions then diverge', async () => {
    const input = ["Hi, I'm Alice", '/fork alice-2', "I'm Carol", 'What is my name?', '/session default', 'What is my name?', '/sessions', '/history', '/exit', 'never sent'].join('\n')
    const { code, stdout, stderr } = await cli([], input)
    expect(stderr).toBe('')
    expect(lines(stdout)).toEqual([
      "assistant> Nice to meet you, Alice! I'll remember that.",
      'forked "default" into "alice-2" (2 message(s)); now in "alice-2"',
      "assistant> Nice to meet you, Carol! I'll remember that.",
      'assistant> Your name is Carol.',
      'now in session "default" (2 stored message(s))',
      'assistant> Your name is Alice.',
      'sessions: default (current), alice-2',
      'session "default", 4 stored message(s):',
      `  1. user "Hi, I'm Alice"`,
      `  2. assistant "Nice to meet you, Alice! I'll remember that."`,
      '  3. user "What is my name?"',
      '  4. assistant "Your name is Alice."',
    ])
    expect(code).toBe(0)
  })

  it('--session names the session; /clear deletes it; bad commands are reported and the chat goes on', async () => {
    const input = ["I'm Dana", '/fork', '/fork bob', '/nope', '/clear', '/history', 'who am i'].join('\n')
    const { code, stdout, stderr } = await cli(['--session', 'bob'], input)
    expect(lines(stderr)).toEqual([
      'error: Expected `/fork <id>` to be a non-empty string, got `""`.',
      'error: Session `bob` already exists',
      'unknown command /nope. Commands: /history, /sessions, /session <id>, /fork <id>, /clear, /help, /exit',
    ])
    expect(stdout).toContain('deleted the history of "bob"')
    expect(stdout).toContain('(session "bob" has no stored messages)')
    expect(stdout).toContain("assistant> I don't know your name")
    expect(code).toBe(0)
  })

  it('a session may be called "exit" without quitting the chat', async () => {
    const { code, stdout } = await cli([], '/session exit\nhello\n/quit\nnot sent\n')
    expect(lines(stdout)).toEqual([
      'now in session "exit" (0 stored message(s))',
      'assistant> You said "hello". I can see 0 earlier message(s) of this conversation.',
    ])
    expect(code).toBe(0)
  })

  it('a failed turn prints the error, goes on with the next line, and makes the exit code 1', async () => {
    const { code, stdout, stderr } = await cli(['--max-tokens', '30', '--system', 'You are a very helpful assistant. '.repeat(5)], 'Hi\nHi again\n')
    expect(stdout).toBe('')
    const errors = lines(stderr)
    expect(errors).toHaveLength(2)
    expect(errors[0]).toMatch(/^error: ContextOverflowError: Context overflow: .*the budget is 30$/)
    expect(code).toBe(1)
  })

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await cli(['--help'], '')
    expect(stdout).toMatch(/^Usage: npm start -- \[options\]/)
    for (const flag of ['--session <id>', '--max-messages <n>', '--max-tokens <n>', '--system <text>', '--trace', '--model <name>', '--base-url <url>', '--help']) {
      expect(stdout).toContain(flag)
    }
    expect(code).toBe(0)
  })

  it.each([
    [['--nope'], 'promptline: unknown option --nope'],
    [['hello'], 'promptline: unexpected argument "hello"'],
    [['--max-messages', '0'], 'promptline: --max-messages must be a positive integer, got "0"'],
    [['--max-messages', '2.5'], 'promptline: --max-messages must be a positive integer, got "2.5"'],
    [['--max-tokens', 'lots'], 'promptline: --max-tokens must be a positive integer, got "lots"'],
    [['--session'], 'promptline: --session needs a value'],
    [['--session', ''], 'promptline: --session must be a non-empty id of at most 512 bytes, got ""'],
    [['--trace=yes'], 'promptline: --trace does not take a value'],
    [['--base-url', 'not a url'], 'promptline: --base-url must be a URL'],
  ])('bad flags %j: a clear message on stderr and exit code 2', async (args, message) => {
    const { code, stdout, stderr } = await cli(args, 'Hi\n')
    expect(stdout).toBe('')
    expect(stderr.startsWith(message)).toBe(true)
    expect(stderr).toContain('Run with --help for usage.')
    expect(code).toBe(2)
  })
})

describe('npm start with OPENAI_BASE_URL (a fake OpenAI server)', { timeout: 60_000 }, () => {
  const server = useFakeOpenAI()

  it('streams replies from the server, sends the history, and prices the model it reports', async () => {
    server.enqueue({ kind: 'reply', content: 'Hello Alice, nice to meet you.' }, { kind: 'reply', content: 'You are Alice.' })
    const { code, stdout, stderr } = await cli(['--trace', '--model', 'gpt-4o-mini'], "Hi, I'm Alice\nWho am I?\n", {
      OPENAI_BASE_URL: server.baseURL,
    })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const replies = lines(stdout).filter((line) => line.startsWith('assistant> '))
    expect(replies).toEqual(['assistant> Hello Alice, nice to meet you.', 'assistant> You are Alice.'])
    expect(stdout).toMatch(/\[trace\] usage: \d+ input \+ \d+ output tokens, cost \$\d+\.\d{8} \(gpt-4o-mini\)/)

    expect(server.requests).toHaveLength(2)
    const second = server.requests[1]?.body
    expect(second?.stream).toBe(true)
    expect(second?.model).toBe('gpt-4o-mini')
    expect(second?.messages?.map((m) => [m.role, m.content])).toEqual([
      ['user', "Hi, I'm Alice"],
      ['assistant', 'Hello Alice, nice to meet you.'],
      ['user', 'Who am I?'],
    ])
  })

  it('--base-url alone switches to OpenAI; a server error is reported and the exit code is 1', async () => {
    server.enqueue({ kind: 'error', status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error' } } })
    const { code, stderr } = await cli(['--base-url', server.baseURL], 'Hi\n')
    expect(stderr).toMatch(/^error: ProviderError: Provider `openai` failed \(HTTP 400\)/)
    expect(code).toBe(1)
  })
})
