/** A mesh, sharding or partition spec is malformed; the message names the field. */
export class ShardingError extends Error {
  override name = 'ShardingError';
}
