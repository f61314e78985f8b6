export { MockProvider, type MockProviderOptions, type MockReply, type MockAnswer } from './providers/mock.js'
