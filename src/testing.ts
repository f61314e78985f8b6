export { MockProvider, type MockProviderOptions, type MockReply } from './providers/mock.js'
