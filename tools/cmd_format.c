/* Formatting for people: sizes, ages, prompts, indented JSON; and parsing sizes and ages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "llmshim.h"

#define PRETTY_MAX_DEPTH 200 /* deeper than this is printed as it is */

void fmt_size(char *out, size_t n, long long b) {
    static const char units[] = "KMGT";
    if (b < 1024) {
        snprintf(out, n, "%lldB", b);
        return;
    }
    double v = (double)b / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(out, n, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

void fmt_age(char *out, size_t n, long long s) {
    if (s < 0) s = 0;
    if (s < 120) snprintf(out, n, "%llds", s);
    else if (s < 7200) snprintf(out, n, "%lldm", s / 60);
    else if (s < 172800) snprintf(out, n, "%lldh", s / 3600);
    else snprintf(out, n, "%lldd", s / 86400);
}

void fmt_us(char *out, size_t n, long long us) {
    if (us < 0) us = 0;
    if (us < 1000000) snprintf(out, n, "%lldms", us / 1000);
    else if (us < 120000000) snprintf(out, n, "%.1fs", (double)us / 1e6);
    else if (us < 7200000000LL) snprintf(out, n, "%lldm%02llds", us / 60000000, us / 1000000 % 60);
    else snprintf(out, n, "%lldh%02lldm", us / 3600000000LL, us / 60000000 % 60);
}

static int parse_unit(const char *s, long long *out, const char *units, const long long *mul) {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || v < 0) return -1;
    long long m = 1;
    if (*end) {
        const char *u = strchr(units, *end | 0x20);
        if (!u) return -1;
        m = mul[u - units];
        end++;
        if ((*end | 0x20) == 'b' && mul[0] == 1024) end++; /* "500MB" */
        if (*end) return -1;
    }
    if (v > (1LL << 62) / m) return -1;
    *out = v * m;
    return 0;
}

int parse_bytes(const char *s, long long *out) {
    static const long long mul[] = {1024, 1024LL * 1024, 1024LL * 1024 * 1024, 1024LL * 1024 * 1024 * 1024};
    return parse_unit(s, out, "kmgt", mul);
}

int parse_duration(const char *s, long long *out) {
    static const long long mul[] = {1, 60, 3600, 86400, 7 * 86400};
    return parse_unit(s, out, "smhdw", mul);
}

int parse_when(const char *s, long long now, long long *out) {
    long long v;
    if (s[0] == '@') { /* date +%s */
        char *end;
        errno = 0;
        v = strtoll(s + 1, &end, 10);
        if (end == s + 1 || *end || errno || v < 0) return -1;
        *out = v;
        return 0;
    }
    if (parse_duration(s, &v) == 0) {
        *out = now - v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%Y-%m-%d", &tm);
    if (end && (*end == 'T' || *end == ' ')) {
        const char *t = strptime(end + 1, "%H:%M:%S", &tm);
        end = t ? t : strptime(end + 1, "%H:%M", &tm);
    }
    if (end && *end == 'Z') end++;
    if (!end || *end) return -1;
    *out = (long long)timegm(&tm); /* UTC, as the entries' times are */
    return 0;
}

/* ---- prompts ------------------------------------------------------------------------------ */

/* Text of a string, a list of content parts, or an object with text/content/parts. */
static int text_of(const struct json_doc *d, int i, struct buf *out, int depth) {
    if (i < 0 || depth > 8) return -1;
    const jsmntok_t *t = &d->tok[i];
    if (t->type == JSMN_STRING) return json_tok_str(d, i, out);
    if (t->type == JSMN_ARRAY) {
        for (int k = 0; k < t->size; k++)
            if (text_of(d, json_child(d, i, k), out, depth + 1) == 0) return 0;
        return -1;
    }
    if (t->type != JSMN_OBJECT) return -1;
    static const char *const keys[] = {"text", "content", "parts", "prompt", NULL};
    for (const char *const *k = keys; *k; k++)
        if (text_of(d, json_get(d, i, *k), out, depth + 1) == 0) return 0;
    return -1;
}

/* The last message from the user (or just the last one) of a messages/contents/input list. */
static int last_user(const struct json_doc *d, int list) {
    int last = -1;
    for (int k = d->tok[list].size - 1; k >= 0; k--) {
        int m = json_child(d, list, k);
        if (last < 0) last = m;
        if (d->tok[m].type == JSMN_OBJECT && json_tok_eq(d, json_get(d, m, "role"), "user")) return m;
    }
    return last;
}

static void prompt_json(const struct json_doc *d, struct buf *out) {
    static const char *const lists[] = {"messages", "contents", "input", "prompt", NULL};
    if (d->tok[0].type != JSMN_OBJECT) return;
    for (const char *const *k = lists; *k; k++) {
        int v = json_get(d, 0, *k);
        if (v < 0) continue;
        if (d->tok[v].type == JSMN_ARRAY && d->tok[v].size > 0 &&
            (!strcmp(*k, "messages") || !strcmp(*k, "contents") || d->tok[v + 1].type == JSMN_OBJECT))
            v = last_user(d, v);
        if (text_of(d, v, out, 0) == 0 && out->len) return;
        buf_clear(out);
    }
}

char *prompt_of(const char *body, size_t len, int json, size_t max) {
    struct buf raw, out;
    buf_init(&raw);
    buf_init(&out);
    struct json_doc d;
    if (json && json_parse(&d, body, len) == 0) {
        prompt_json(&d, &raw);
        json_doc_free(&d);
    }
    if (!raw.len) buf_append(&raw, body ? body : "", len < 40 ? len : 40);
    int space = 0;
    for (size_t i = 0; i < raw.len && out.len < max; i++) {
        unsigned char c = (unsigned char)raw.data[i];
        if (c < 0x20 || c == ' ' || c == 0x7f) {
            space = out.len > 0;
            continue;
        }
        if (space) buf_putc(&out, ' ');
        space = 0;
        buf_putc(&out, (char)c);
    }
    while (out.len && ((unsigned char)out.data[out.len - 1] & 0xC0) == 0x80) out.len--; /* whole characters */
    if (out.len && (unsigned char)out.data[out.len - 1] >= 0xC0) out.len--;
    if (out.data) out.data[out.len] = '\0';
    buf_free(&raw);
    if (!out.data) buf_puts(&out, "");
    return out.oom ? (buf_free(&out), NULL) : buf_take(&out, NULL);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void indent(struct buf *out, int depth) {
    buf_putc(out, '\n');
    for (int i = 0; i < depth; i++) buf_puts(out, "  ");
}

static void raw_tok(const struct json_doc *d, int i, struct buf *out) {
    const jsmntok_t *t = &d->tok[i];
    int q = t->type == JSMN_STRING; /* jsmn leaves the quotes out of string tokens */
    buf_append(out, d->text + t->start - q, (size_t)(t->end - t->start + 2 * q));
}

static int pretty(const struct json_doc *d, int i, int depth, struct buf *out) {
    const jsmntok_t *t = &d->tok[i];
    if ((t->type != JSMN_OBJECT && t->type != JSMN_ARRAY) || depth > PRETTY_MAX_DEPTH) {
        raw_tok(d, i, out);
        return json_skip(d, i);
    }
    int obj = t->type == JSMN_OBJECT;
    if (!t->size) {
        buf_puts(out, obj ? "{}" : "[]");
        return i + 1;
    }
    buf_putc(out, obj ? '{' : '[');
    int j = i + 1;
    for (int k = 0; k < t->size; k++) {
        if (k) buf_putc(out, ',');
        indent(out, depth + 1);
        if (obj) {
            raw_tok(d, j++, out);
            buf_puts(out, ": ");
        }
        j = pretty(d, j, depth + 1, out);
    }
    indent(out, depth);
    buf_putc(out, obj ? '}' : ']');
    return j;
}

int json_pretty(struct buf *out, const char *text, size_t len) {
    struct json_doc d;
    if (json_parse(&d, text, len) != 0) return -1;
    pretty(&d, 0, 0, out);
    json_doc_free(&d);
    return 0;
}

void put_json_str(FILE *f, const char *s) {
    if (!s) {
        fputs("null", f);
        return;
    }
    struct buf b;
    buf_init(&b);
    json_escape(&b, s, strlen(s));
    if (b.data) fputs(b.data, f);
    buf_free(&b);
}
