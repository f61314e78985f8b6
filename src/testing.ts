/**
 * Test doubles: `MockProvider` answers from a script without a network and records
 * what each turn sent, so pipelines and middleware can be tested offline.
 *
 * @module promptline/testing
 */
export { MockProvider, type MockProviderOptions, type MockReply, type MockAnswer } from './providers/mock.js'
