/**
 * The code blocks of README.md and docs/*.md, and the rules that keep them true.
 *
 * A TypeScript block is one of two kinds:
 * - an **excerpt**, whose first line names a file of the repository
 *   (`// examples/<file>.ts`, `// src/<file>.ts`, `// middleware/<file>.ts`). Its lines
 *   must occur in that file in the same order and next to each other; a `// …` line
 *   marks a gap, where lines of the file are left out. Blank lines and comment lines of
 *   the file may be left out without a mark (they do not change what the code does),
 *   code lines may not: an excerpt of an interface that drops a field fails.
 * - a **snippet**, any other block: it is compiled on its own as a module against the
 *   package's entry points (see compileSnippets), so it must declare what it uses.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { ROOT } from './run-node.js'

export interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  doc: string
  /** The 1-based line of the opening fence. */
  line: number
  lang: string
  /** The lines between the fences. */
  lines: string[]
}

/** The marker of lines an excerpt leaves out. */
export const GAP = '// …'

const TS_LANGS = new Set(['ts', 'typescript', 'mts', 'cts'])
const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console'])
const EXCERPT_HEADER = /^\/\/ ((?:examples|src|middleware|bench)\/[\w./-]+\.ts)$/

/** README.md and every Markdown file under docs/, found on disk so a new guide is checked too. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file.split('\\').join('/')}`)
    .sort()
  return ['README.md', ...docs]
}

/** The fenced blocks of one Markdown file. */
export function codeBlocks(doc: string): CodeBlock[] {
  const text = readFileSync(join(ROOT, doc), 'utf8')
  const blocks: CodeBlock[] = []
  // Fences may be indented (inside a list item); the closing fence matches the opening one.
  for (const match of text.matchAll(/^( *)(```+|~~~+)([\w-]*)[^\n]*\n([\s\S]*?)^\1\2[ \t]*$/gm)) {
    const [, indent = '', , lang = '', body = ''] = match
    const lines = body.replace(/\n$/, '').split('\n').map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
    blocks.push({ doc, line: text.slice(0, match.index).split('\n').length, lang, lines })
  }
  return blocks
}

export function isTypeScript(block: CodeBlock): boolean {
  return TS_LANGS.has(block.lang)
}

export function isShell(block: CodeBlock): boolean {
  return SHELL_LANGS.has(block.lang)
}

/** The file an excerpt quotes, or undefined for a snippet. */
export function excerptSource(block: CodeBlock): string | undefined {
  return EXCERPT_HEADER.exec(block.lines[0]?.trim() ?? '')?.[1]
}

const isSkippable = (line: string) => line === '' || line.startsWith('//') || line.startsWith('/*') || line.startsWith('*')

/**
 * Why an excerpt does not match its file, or undefined when it does. Lines are compared
 * without their indentation, so an excerpt may dedent a function's body.
 */
export function excerptProblem(block: CodeBlock): string | undefined {
  const source = excerptSource(block)
  if (source === undefined) return 'not an excerpt'
  if (!existsSync(join(ROOT, source))) return `${source} does not exist`
  const file = readFileSync(join(ROOT, source), 'utf8').split('\n').map((l) => l.trim())
  const segments: string[][] = [[]]
  for (const line of block.lines.slice(1).map((l) => l.trim())) {
    if (line === GAP) segments.push([])
    else if (line !== '') segments.at(-1)?.push(line)
  }
  let cursor = 0
  for (const segment of segments.filter((s) => s.length > 0)) {
    const end = matchSegment(file, segment, cursor)
    if (typeof end === 'number') {
      cursor = end
      continue
    }
    return `${source}: ${end}`
  }
  return undefined
}

/**
 * Finds the first place at or after `from` where `segment` occurs as consecutive code lines
 * (the file's blank and comment lines in between are skipped), and returns the index after
 * it; else a description of the furthest partial match, which is usually the line that drifted.
 */
function matchSegment(file: string[], segment: string[], from: number): number | string {
  let best = { matched: 0, at: -1 }
  for (let start = from; start < file.length; start++) {
    if (file[start] !== segment[0]) continue
    let j = start + 1
    let matched = 1
    for (; matched < segment.length; matched++) {
      const want = segment[matched]
      while (j < file.length && file[j] !== want && isSkippable(file[j] ?? '')) j++
      if (file[j] !== want) break
      j++
    }
    if (matched === segment.length) return j
    if (matched > best.matched) best = { matched, at: j }
  }
  if (best.at < 0) return `no line ${JSON.stringify(segment[0])} (after the previous part of the excerpt)`
  return `after ${JSON.stringify(segment[best.matched - 1])} the file goes on with ${JSON.stringify(file[best.at] ?? '<end>')}, the excerpt with ${JSON.stringify(segment[best.matched])} (mark a gap with "${GAP}")`
}

export interface SnippetDiagnostic {
  /** `docs/x.md:12`: the snippet's line in its guide. */
  where: string
  message: string
}

/**
 * Type-checks snippets as modules in one program, with the repository's compiler options
 * and `paths` (so `promptline/*` resolves to the source entry points, as in the examples).
 * Unused locals are allowed: a snippet often builds something only to show how.
 */
export function compileSnippets(blocks: readonly CodeBlock[]): SnippetDiagnostic[] {
  const dir = join(ROOT, '.tmp', 'doc-snippets')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const origins = new Map<string, CodeBlock>()
  for (const block of blocks) {
    const file = join(dir, `${block.doc.replace(/[/.]/g, '_')}_${block.line}.ts`)
    // `export {}` makes a block without imports a module too (top-level await, own scope).
    writeFileSync(file, `${block.lines.join('\n')}\nexport {}\n`)
    origins.set(file, block)
  }
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    },
  })
  if (config === undefined) throw new Error('tsconfig.json could not be read')
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, noUnusedLocals: false, declaration: false, sourceMap: false }
  const program = ts.createProgram([...origins.keys()], options)
  const diagnostics = ts.getPreEmitDiagnostics(program)
  return diagnostics.map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    const block = d.file === undefined ? undefined : origins.get(d.file.fileName)
    if (d.file === undefined || block === undefined) {
      const where = d.file === undefined ? 'tsc' : relative(ROOT, d.file.fileName)
      return { where, message }
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0)
    return { where: `${block.doc}:${block.line + 1 + line}`, message }
  })
}
