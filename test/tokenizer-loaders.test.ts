import { describe, expect, it } from 'vitest'
import { chatModelParams, modelToEncodingMap } from 'gpt-tokenizer/mapping'
import { TOKENIZER_LOADERS, loadTokenizer } from '../src/tokenizer-loaders.js'

describe('tokenizer loaders', () => {
  it('has one static loader per chat model gpt-tokenizer knows, and no other', () => {
    expect(Object.keys(TOKENIZER_LOADERS).sort()).toEqual(Object.keys(chatModelParams).sort())
  })

  it('loads a working encoding for one model of each encoding', async () => {
    const byEncoding = new Map<string, string>()
    for (const model of Object.keys(chatModelParams) as (keyof typeof chatModelParams)[]) {
      const encoding = modelToEncodingMap[model]
      if (!byEncoding.has(encoding)) byEncoding.set(encoding, model)
    }
    expect(byEncoding.size).toBeGreaterThan(1)
    for (const model of byEncoding.values()) {
      const tokenizer = await loadTokenizer(model)
      expect(tokenizer.encode('hello world').length, model).toBeGreaterThan(0)
    }
  })

  it.each([['gpt-unknown'], ['constructor'], ['__proto__'], ['']])('rejects %j with a TypeError', async (model) => {
    await expect(loadTokenizer(model)).rejects.toThrow(TypeError)
  })
})
