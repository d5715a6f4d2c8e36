/* buf: a growable byte buffer, always NUL-terminated so it can be used as a C string.
 * Allocation failure is sticky: after one, every append is a no-op and buf.oom stays set,
 * so callers check once at the end instead of after every append. */
#ifndef LLMSHIM_BUF_H
#define LLMSHIM_BUF_H

#include <stddef.h>

struct buf {
    char *data;   /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    int oom;      /* an allocation failed; contents are incomplete */
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_clear(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Takes over data (malloc'd, len bytes then a NUL) as the contents of an empty b: 0, or -1 when
 * b holds something already (nothing taken; the caller still owns data). */
int buf_adopt(struct buf *b, char *data, size_t len);
/* Hands the data to the caller (who frees it) and leaves b empty. */
char *buf_take(struct buf *b, size_t *len);

#endif
