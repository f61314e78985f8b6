// `promptline/redis`: the Redis store. Loads `ioredis` (an optional peer dependency).
export {
  RedisStore,
  RedisStoreError,
  REDIS_CLIENT_OPTIONS,
  type RedisStoreOptions,
  type RedisSessionKeys,
  type RedisWaitOptions,
  type RedisLockOptions,
  type RedisFailureCode,
} from './stores/redis.js'
