/* replay_miss: the report of a replay miss (LLMSHIM_MODE=replay found no entry), on stderr in
 * the process that missed, and one summary line when it exits. */
#ifndef LLMSHIM_REPLAY_MISS_H
#define LLMSHIM_REPLAY_MISS_H

#include "call.h"
#include "config.h"

/* Names the nearest recorded request and what differs (file store: searched within bounds),
 * saves the request body in <dir>/.misses/ and prints a command that compares them. */
void replay_miss_report(const struct config *cfg, const struct call *c);

#endif
