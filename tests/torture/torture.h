/* torture.h: force-included (-include) into every llmshim source file of the test-only build in
 * build-torture/ (make torture). llmshim's own allocations then go through counting wrappers,
 * and the Nth one fails when LLMSHIM_TORTURE_FAIL_AT=N, as in curl's torture tests: every
 * failure path along a run gets exercised by some N. free stays free. */
#ifndef LLMSHIM_TORTURE_H
#define LLMSHIM_TORTURE_H

#include <stdlib.h>
#include <string.h>

void *torture_malloc(size_t n);
void *torture_calloc(size_t n, size_t size);
void *torture_realloc(void *p, size_t n);
char *torture_strdup(const char *s);
char *torture_strndup(const char *s, size_t n);

#undef malloc
#undef calloc
#undef realloc
#undef strdup
#undef strndup
#define malloc(n) torture_malloc(n)
#define calloc(n, size) torture_calloc(n, size)
#define realloc(p, n) torture_realloc(p, n)
#define strdup(s) torture_strdup(s)
#define strndup(s, n) torture_strndup(s, n)

#endif
