/* redis_sentinel: the Redis store behind Redis Sentinel. The sentinels of the URL are asked for
 * the address of the primary they watch (SENTINEL get-master-addr-by-name), at the first command
 * and again after the primary failed (a broken connection) or said it is one no more (-READONLY
 * after a failover demoted it), at most every 250 ms, by one thread while the others keep the
 * address they have. So a failover costs the requests made until the sentinels have promoted a
 * replica; then caching resumes on it, without a restart.
 *
 * The URL's credentials and database are the primary's; the sentinels get the password of
 * LLMSHIM_SENTINEL_PASSWORD (none when unset); TLS (rediss+sentinel://) applies to both. */
#ifndef LLMSHIM_REDIS_SENTINEL_H
#define LLMSHIM_REDIS_SENTINEL_H

#include <hiredis/hiredis.h>

#include "redis_node.h"
#include "redis_url.h"
#include "store_redis_io.h"

struct sentinel;

/* data: how to talk to primaries; watchers: to the sentinels. NULL when out of memory. */
struct sentinel *sentinel_new(const struct redis_url *u, const struct node_opts *data,
                              const struct node_opts *watchers);
void sentinel_free(struct sentinel *s);

/* n pipelined commands on the current primary: as node_run. */
int sentinel_run(struct sentinel *s, const struct redis_cmd *cmds, int n, redisReply **rep, char **err);

/* The current primary (asked for if need be), or NULL with *err. */
struct redis_node *sentinel_primary(struct sentinel *s, char **err);

#endif
