/** Session storages (file, Redis) and the account lease: docs/architecture.md, "Session storage". */
export type { SessionStorage } from "./storage";
export { FileSessionStorage, type FileSessionStorageOptions } from "./file";
export { RedisSessionStorage, type LeaseFence, type RedisSessionStorageOptions } from "./redis";
export { AccountLease, type AccountLeaseEvents, type AccountLeaseOptions, type LeaseLostReason } from "./lease";
export { accountKeys, openRedis, type OpenRedisOptions } from "./redis-connection";
export { Sealer, type Opened, type SealOptions } from "./envelope";
