/**
 * `promptline/redis`: the Redis store. Loads `ioredis` (an optional peer dependency).
 *
 * @module promptline/redis
 */
export {
  RedisStore,
  RedisStoreError,
  REDIS_CLIENT_OPTIONS,
  type RedisStoreOptions,
  type RedisSessionKeys,
  type RedisWaitOptions,
  type RedisLockOptions,
  type RedisFailureCode,
  type RedisClient,
} from './stores/redis.js'
