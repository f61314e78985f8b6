// `promptline/redis`: the Redis store. Loads `ioredis` (an optional peer dependency).
export { RedisStore, REDIS_CLIENT_OPTIONS, type RedisStoreOptions, type RedisSessionKeys } from './stores/redis.js'
