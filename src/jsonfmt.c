#include "jsonfmt.h"

#define INDENT_MAX_DEPTH 32 /* deeper levels stay on one line: indentation must not grow as n^2 */

int jsonfmt_compact(const char *s, size_t n, struct buf *out) {
    if (buf_reserve(out, n) != 0) return -1;
    int in_str = 0;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            buf_append(out, s + run, i - run);
            run = i + 1;
        }
    }
    if (run < n) buf_append(out, s + run, n - run);
    return out->oom ? -1 : 0;
}

static void newline(struct buf *b, int depth) {
    if (depth > INDENT_MAX_DEPTH) return;
    buf_putc(b, '\n');
    for (int i = 0; i < depth; i++) buf_puts(b, "  ");
}

void jsonfmt_indent(struct buf *b, const char *p, size_t n, int depth) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in_str) {
            buf_putc(b, ch);
            if (ch == '\\' && i + 1 < n) buf_putc(b, p[++i]);
            else if (ch == '"') in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
            buf_putc(b, ch);
        } else if (ch == '{' || ch == '[') {
            buf_putc(b, ch);
            if (i + 1 < n && (p[i + 1] == '}' || p[i + 1] == ']')) buf_putc(b, p[++i]); /* {} [] */
            else newline(b, ++depth);
        } else if (ch == '}' || ch == ']') {
            newline(b, --depth);
            buf_putc(b, ch);
        } else if (ch == ',') {
            buf_putc(b, ',');
            newline(b, depth);
        } else if (ch == ':') {
            buf_puts(b, ": ");
        } else {
            buf_putc(b, ch);
        }
    }
}

void jsonfmt_spaced(struct buf *b, const char *p, size_t n) {
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        buf_putc(b, ch);
        if (in_str) {
            if (ch == '\\' && i + 1 < n) buf_putc(b, p[++i]);
            else if (ch == '"') in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == ',' || ch == ':') {
            buf_putc(b, ' ');
        }
    }
}
