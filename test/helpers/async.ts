/** Small async helpers the test files share. */

/**
 * Reads an async iterable to the end and resolves with everything it yielded.
 * When the iteration throws, the error is rethrown with the items read so far
 * attached as a non-enumerable `chunks` property (when the error is an object
 * that can take it), so a test can check what came before the failure.
 */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  try {
    for await (const item of iterable) items.push(item)
  } catch (error) {
    if (typeof error === 'object' && error !== null && Object.isExtensible(error) && !Object.hasOwn(error, 'chunks')) {
      Object.defineProperty(error, 'chunks', { value: items, enumerable: false })
    }
    throw error
  }
  return items
}

/** Resolves with what `promise` rejected with; rejects with 'expected a rejection' when it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}
