/* redis_cluster: the Redis store on a Redis Cluster. Each key goes to the primary of its hash
 * slot (CRC16 of the key, or of its {hash tag}, mod 16384); the slot map is read from the
 * cluster (CLUSTER SLOTS) at the first command, through the seed nodes of the URL or any node
 * the map named; -MOVED updates the slot and asks for a new map, -ASK is followed once with
 * ASKING, a node that fails asks for a new map too. Maps are read at most every 250 ms, by one
 * thread at a time while the others route with the map they have, so a failover costs the
 * requests to the dead primary's slots until the cluster has promoted its replica.
 *
 * Database 0 only (cluster mode has no SELECT); every command the store sends names one key, so
 * no command can ever need keys of two slots (CROSSSLOT). Lock-free, like redis_node.c: slots
 * are atomic node indices into a table whose nodes live as long as the store. */
#ifndef LLMSHIM_REDIS_CLUSTER_H
#define LLMSHIM_REDIS_CLUSTER_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "redis_node.h"
#include "redis_url.h"
#include "store_redis_io.h"

#define CLUSTER_SLOTS 16384

struct cluster;

/* The seeds are u's addresses. NULL when out of memory. */
struct cluster *cluster_new(const struct redis_url *u, const struct node_opts *o);
void cluster_free(struct cluster *c);

/* The hash slot of a key: CRC16 (XMODEM) of the key, or of the text between its first '{' and
 * the next '}' when that is not empty, mod 16384. */
unsigned cluster_slot(const char *key, size_t len);

/* n pipelined commands whose first argument is a key of one slot (cmds[0]'s), on that slot's
 * primary, redirections followed: as node_run. */
int cluster_run(struct cluster *c, const struct redis_cmd *cmds, int n, redisReply **rep, char **err);

/* Every primary of the map (read first if need be), up to max: their number, or -1 with *err. */
int cluster_primaries(struct cluster *c, struct redis_node **out, int max, char **err);

#endif
