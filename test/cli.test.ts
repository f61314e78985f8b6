/** `promptline chat` (what `npm start` runs): the CLI spawned with piped stdin, as a user would pipe messages into it. */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runNode, type RunOptions } from './helpers/run-node.js'
import { useFakeOpenAI } from './helpers/pipeline-openai.js'
import { startFakeAnthropic, type FakeAnthropicServer } from './helpers/fake-anthropic-server.js'

/** `promptline chat` offline: OpenAI and Redis settings from the developer's environment must not leak in. */
function cli(args: string[], input: string, env: RunOptions['env'] = {}) {
  return promptline(['chat', ...args], input, env)
}

function promptline(args: string[], input = '', env: RunOptions['env'] = {}) {
  return runNode('src/cli.ts', args, {
    input,
    env: {
      OPENAI_API_KEY: undefined,
      OPENAI_BASE_URL: undefined,
      ANTHROPIC_API_KEY: undefined,
      ANTHROPIC_BASE_URL: undefined,
      REDIS_URL: undefined,
      ...env,
    },
  })
}

const lines = (text: string) => text.split('\n').filter((line) => line.length > 0)

// Each case spawns a node process (under a second alone, slower side by side on a small CI machine).
describe.concurrent('promptline chat (offline, piped stdin)', { timeout: 60_000 }, () => {
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

  it('--summary-after keeps a rolling summary: the name survives the window, /history and --trace show it', async () => {
    const input = "Hi, I'm Alice\nI need a hotel in Rome\nNear the station please\nFor three nights\nWith breakfast\nAnd a pool\nWhat is my name?\n/history\n"
    const { code, stdout, stderr } = await cli(['--max-messages', '2', '--summary-after', '4', '--trace'], input)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toContain('assistant> Your name is Alice.')
    expect(stdout).toContain('[trace] summary (background): now covers 4 stored message(s) (was 0; 4 summarised from a ')
    expect(stdout).toContain('[trace] summary (background): now covers 8 stored message(s) (was 4; 4 summarised from a ')
    expect(stdout).toContain(
      '[trace] summary: pinned, covers 8 stored message(s): "The user\'s name is Alice. The user said: Hi, I\'m Alice / I need a hotel / Near the station please / For three nights"',
    )
    expect(stdout).toContain('  summary of messages 1–8: "The user\'s name is Alice. The user said: Hi, I\'m Alice / I need a hotel / Near the station please / For three nights"')
    // Without it, the same chat forgets.
    const plain = await cli(['--max-messages', '2'], input)
    expect(plain.stdout).toContain("assistant> I don't know your name")
  })

  it('rejects a bad --summary-after', async () => {
    const { code, stderr } = await cli(['--summary-after', '0'], '')
    expect(code).toBe(2)
    expect(stderr).toContain('--summary-after must be a positive integer, got "0"')
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
    const input = ["I'm Dana", '/fork', '/session', '/fork bob', '/nope', '/clear', '/history', 'who am i'].join('\n')
    const { code, stdout, stderr } = await cli(['--session', 'bob'], input)
    expect(lines(stderr)).toEqual([
      'usage: /fork <id>',
      'usage: /session <id>',
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
    expect(stdout).toMatch(/^Usage: promptline chat \[options\]/)
    const flags = ['--session <id>', '--provider <name>', '--max-messages <n>', '--max-tokens <n>', '--system <text>', '--trace', '--reasoning', '--summary-after <n>', '--model <name>', '--base-url <url>', '--redis <url>', '--prefix <prefix>', '--debug', '--help']
    for (const flag of flags) expect(stdout).toContain(flag)
    expect(code).toBe(0)
  })

  it('--provider mock stays offline even when OpenAI is configured in the environment', async () => {
    const { code, stdout, stderr } = await cli(['--provider', 'mock'], "I'm Eve\n", { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' })
    expect(stderr).toBe('')
    expect(lines(stdout)).toEqual(["assistant> Nice to meet you, Eve! I'll remember that."])
    expect(code).toBe(0)
  })

  it.each([
    [['--nope'], 'promptline chat: unknown option --nope'],
    [['hello'], 'promptline chat: unexpected argument "hello"'],
    [['--max-messages', '0'], 'promptline chat: --max-messages must be a positive integer, got "0"'],
    [['--max-messages', '2.5'], 'promptline chat: --max-messages must be a positive integer, got "2.5"'],
    [['--max-tokens', 'lots'], 'promptline chat: --max-tokens must be a positive integer, got "lots"'],
    [['--session'], 'promptline chat: --session needs a value'],
    [['--session', ''], 'promptline chat: --session must be a non-empty id of at most 512 bytes, got ""'],
    [['--trace=yes'], 'promptline chat: --trace does not take a value'],
    [['--base-url', 'not a url'], 'promptline chat: --base-url must be a URL'],
    [['--provider', 'gemini'], 'promptline chat: --provider must be one of mock, openai, anthropic, got "gemini"'],
    [['--provider', 'openai'], 'promptline chat: --provider openai needs OPENAI_API_KEY'],
    [['--provider', 'anthropic'], 'promptline chat: --provider anthropic needs ANTHROPIC_API_KEY'],
    [['--provider', 'mock', '--base-url', 'http://localhost:1/v1'], 'promptline chat: --base-url is for --provider openai or anthropic, not mock'],
    [['--redis', 'localhost:6379'], 'promptline chat: --redis must be a redis:// or rediss:// URL, got "localhost:6379"'],
    [['--prefix', 'chat'], 'promptline chat: --prefix needs --redis (or REDIS_URL)'],
    [['--sesion', 'x'], 'promptline chat: unknown option --sesion (did you mean --session?)'],
  ])('bad flags %j: a clear message on stderr and exit code 2', async (args, message) => {
    const { code, stdout, stderr } = await cli(args, 'Hi\n')
    expect(stdout).toBe('')
    expect(stderr.startsWith(message)).toBe(true)
    expect(stderr).toContain('Run with --help for usage.')
    expect(code).toBe(2)
  })
})

describe.concurrent('promptline: the command itself', { timeout: 60_000 }, () => {
  it('--help lists the commands and exits 0; no command prints it to stderr and exits 2', async () => {
    const help = await promptline(['--help'])
    expect(help.stdout).toMatch(/^Usage: promptline <command> \[options\]/)
    for (const text of ['chat', 'sessions <command>', '--version', 'NO_COLOR']) expect(help.stdout).toContain(text)
    expect(help.code).toBe(0)
    const none = await promptline([])
    expect(none.stdout).toBe('')
    expect(none.stderr).toBe(help.stdout)
    expect(none.code).toBe(2)
  })

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    const { code, stdout } = await promptline(['--version'])
    expect(stdout).toBe(`${version}\n`)
    expect(code).toBe(0)
  })

  it('"help sessions" is "sessions --help"', async () => {
    const [viaHelp, viaFlag] = await Promise.all([promptline(['help', 'sessions']), promptline(['sessions', '--help'])])
    expect(viaHelp.stdout).toBe(viaFlag.stdout)
    expect(viaHelp.stdout).toMatch(/^Usage: promptline sessions <command>/)
    expect(viaHelp.code).toBe(0)
  })

  it('colours only when asked: FORCE_COLOR colours piped output, NO_COLOR wins over it', async () => {
    const forced = await promptline(['chat'], 'Hi\n', { NO_COLOR: undefined, FORCE_COLOR: '1' })
    expect(forced.stdout).toContain('\x1b[32massistant> ')
    const both = await promptline(['chat'], 'Hi\n', { NO_COLOR: '1', FORCE_COLOR: '1' })
    expect(both.stdout).not.toContain('\x1b[')
    expect(both.stdout).toMatch(/^assistant> /)
  })

  it('--debug adds the stack, with its causes, to the one error line', async () => {
    const plain = await promptline(['sessions', 'list', '--redis', 'redis://127.0.0.1:1'])
    expect(lines(plain.stderr)).toEqual(['promptline sessions: cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1'])
    const debug = await promptline(['sessions', 'list', '--redis', 'redis://127.0.0.1:1', '--debug'])
    const [first, ...stack] = lines(debug.stderr)
    expect(first).toBe(lines(plain.stderr)[0])
    expect(stack[0]).toMatch(/^CommandError: cannot reach Redis/)
    expect(stack.some((line) => /^\s+at /.test(line))).toBe(true)
    expect(stack.some((line) => /MaxRetriesPerRequestError|max retries per request/i.test(line))).toBe(true)
    expect(debug.code).toBe(1)
  })

  it.each([
    [['chta'], 'promptline: unknown command "chta" (did you mean "chat"?)'],
    [['--trace'], 'promptline: unknown option --trace (options go after the command, e.g. promptline chat --trace)'],
    [['sessions', 'lsit'], 'promptline sessions: unknown command "sessions lsit" (did you mean "sessions list"?)'],
  ])('%j: one line naming the mistake, and exit code 2', async (args, message) => {
    const { code, stdout, stderr } = await promptline(args)
    expect(stdout).toBe('')
    expect(lines(stderr)).toEqual([message, 'Run with --help for usage.'])
    expect(code).toBe(2)
  })
})

describe('promptline chat with OPENAI_BASE_URL (a fake OpenAI server)', { timeout: 60_000 }, () => {
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

  it('--reasoning prints the reasoning a server sent, after the reply; without it, nothing of it shows', async () => {
    const reasoning = { field: 'reasoning_content', text: 'The user greets me; greet back.' } as const
    server.enqueue({ kind: 'reply', content: 'Hello!', reasoning }, { kind: 'reply', content: 'Hello!', reasoning })
    const shown = await cli(['--reasoning'], 'Hi\n', { OPENAI_BASE_URL: server.baseURL })
    expect(shown.code).toBe(0)
    expect(lines(shown.stdout)).toEqual(expect.arrayContaining(['assistant> Hello!', '(reasoning) The user greets me; greet back.']))
    const hidden = await cli([], 'Hi\n', { OPENAI_BASE_URL: server.baseURL })
    expect(hidden.code).toBe(0)
    expect(hidden.stdout).toContain('assistant> Hello!')
    expect(hidden.stdout).not.toContain('greet back')
  })

  it('--base-url alone switches to OpenAI; a server error is reported and the exit code is 1', async () => {
    server.enqueue({ kind: 'error', status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error' } } })
    const { code, stderr } = await cli(['--base-url', server.baseURL], 'Hi\n')
    expect(stderr).toMatch(/^error: ProviderError: Provider `openai` failed \(HTTP 400\)/)
    expect(code).toBe(1)
  })
})

describe('promptline chat with ANTHROPIC_API_KEY (a fake Messages API)', { timeout: 60_000 }, () => {
  let server: FakeAnthropicServer
  beforeAll(async () => {
    server = await startFakeAnthropic({ apiKey: 'sk-ant-test' })
  })
  afterAll(() => server.close())

  it('picks Claude by default when ANTHROPIC_API_KEY is set, and shows its thinking with --reasoning', async () => {
    server.enqueue({ kind: 'reply', content: 'Hello, Alice.', thinking: { thinking: 'A greeting.', signature: 'sig-1' } })
    const { code, stdout, stderr } = await cli(['--reasoning'], "Hi, I'm Alice\n", {
      ANTHROPIC_API_KEY: 'sk-ant-test',
      ANTHROPIC_BASE_URL: server.baseURL,
    })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(lines(stdout)).toEqual(expect.arrayContaining(['assistant> Hello, Alice.', '(reasoning) A greeting.']))
    expect(server.requests.at(-1)?.body?.model).toBe('claude-haiku-4-5')
  })
})

