#include <jsmn.h> /* the one translation unit that holds jsmn's code */

#include "json.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- strict structure check ------------------------------------------------------------
 * jsmn tokenizes but forgives missing commas and colons ("[1 2]" parses). Two bodies that are
 * different to a server must never share a key, so the gaps between tokens are checked here. */

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Text in [from, to) must be whitespace around exactly one `sep` (or none when sep == 0). */
static int gap_ok(const char *t, int from, int to, char sep) {
    int seen = 0;
    for (int p = from; p < to; p++) {
        if (is_ws(t[p])) continue;
        if (sep && !seen && t[p] == sep) { seen = 1; continue; }
        return 0;
    }
    return sep ? seen : 1;
}

static int literal_ok(const char *s, size_t n) {
    if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) return 1;
    if (n == 5 && !memcmp(s, "false", 5)) return 1;
    return 0;
}

static int number_ok(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return 0;
    if (s[i] == '0') i++;
    else if (s[i] >= '1' && s[i] <= '9') while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    else return 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return 0;
    }
    return i == n;
}

struct frame { int tok; int left; int is_obj; int count; };

static int validate(const struct json_doc *d) {
    const char *t = d->text;
    struct frame stack[64];
    int depth = 0, pos = 0, i = 0;
    for (;;) {
        /* close every container whose children are all consumed */
        while (depth > 0 && stack[depth - 1].left == 0) {
            const jsmntok_t *c = &d->tok[stack[depth - 1].tok];
            if (!gap_ok(t, pos, c->end - 1, 0)) return -1;
            pos = c->end;
            depth--;
        }
        if (i == d->ntok) break;
        if (depth == 0 && i > 0) return -1; /* a second top-level value */
        const jsmntok_t *k = &d->tok[i];
        int start = k->type == JSMN_STRING ? k->start - 1 : k->start;
        char sep = 0;
        int is_key = 0;
        if (depth > 0) {
            struct frame *f = &stack[depth - 1];
            if (f->is_obj) {
                is_key = (f->count % 2) == 0;
                sep = is_key ? (f->count ? ',' : 0) : ':';
                if (is_key && (k->type != JSMN_STRING || k->size != 1)) return -1;
            } else {
                sep = f->count ? ',' : 0;
            }
            f->count++;
            f->left--;
        }
        if (start < pos || !gap_ok(t, pos, start, sep)) return -1;
        if (k->type == JSMN_OBJECT || k->type == JSMN_ARRAY) {
            if (depth == (int)(sizeof(stack) / sizeof(stack[0]))) return -1;
            stack[depth].tok = i;
            stack[depth].is_obj = k->type == JSMN_OBJECT;
            stack[depth].left = k->type == JSMN_OBJECT ? 2 * k->size : k->size;
            stack[depth].count = 0;
            depth++;
            pos = k->start + 1;
        } else if (k->type == JSMN_STRING) {
            if (!is_key && k->size != 0) return -1;
            pos = k->end + 1;
        } else {
            const char *s = t + k->start;
            size_t n = (size_t)(k->end - k->start);
            if (!literal_ok(s, n) && !number_ok(s, n)) return -1;
            pos = k->end;
        }
        i++;
    }
    if (d->ntok == 0 || !gap_ok(t, pos, (int)d->len, 0)) return -1;
    return 0;
}

/* A document that is one bare literal or number: jsmn (strict) reports it as partial. */
static int parse_scalar(struct json_doc *doc, const char *text, size_t len) {
    size_t a = 0, b = len;
    while (a < b && is_ws(text[a])) a++;
    while (b > a && is_ws(text[b - 1])) b--;
    if (a == b || !(literal_ok(text + a, b - a) || number_ok(text + a, b - a))) return -1;
    jsmntok_t *tok = calloc(1, sizeof(*tok));
    if (!tok) return JSON_NOMEM;
    tok->type = JSMN_PRIMITIVE;
    tok->start = (int)a;
    tok->end = (int)b;
    doc->text = text;
    doc->len = len;
    doc->tok = tok;
    doc->ntok = 1;
    return 0;
}

static size_t utf8_len(const unsigned char *s, size_t n);
static int hex4(const char *s, unsigned *out);
static int unescape(const char *s, size_t n, struct buf *out, int checked);

/* Length of the leading run of printable ASCII other than a backslash, eight bytes per step:
 * answers and prompts are mostly that, and every hit reads them at least once. */
static size_t plain_run(const unsigned char *p, size_t n) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, bs;
        memcpy(&x, p + i, 8);
        bs = x ^ (ones * '\\');
        if ((x & high) | ((x - ones * 0x20) & ~x & high) | ((bs - ones) & ~bs & high)) break;
    }
    while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '\\') i++;
    return i;
}

/* What json_unescape accepts, without producing anything. */
static int string_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        i += plain_run(p + i, n - i);
        if (i >= n) break;
        unsigned c = p[i];
        if (c < 0x20) return 0;
        if (c >= 0x80) {
            size_t l = utf8_len(p + i, n - i);
            if (!l) return 0;
            i += l;
            continue;
        }
        if (i + 1 >= n) return 0;
        char e = s[i + 1];
        unsigned cp;
        if (e == 'u') {
            if (i + 6 > n || hex4(s + i + 2, &cp) != 0) return 0;
            i += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            i += 2;
        } else {
            return 0;
        }
    }
    return 1;
}

int json_parse(struct json_doc *doc, const char *text, size_t len) {
    memset(doc, 0, sizeof(*doc));
    if (len > 0x7fffffff) return -1; /* jsmn positions are ints */
    size_t first = 0;
    while (first < len && is_ws(text[first])) first++;
    if (first < len && text[first] != '{' && text[first] != '[' && text[first] != '"')
        return parse_scalar(doc, text, len);
    /* one tokenizing pass: start with a guess and let jsmn resume after growing the array
     * (it rewinds to the token that did not fit) */
    jsmn_parser p;
    jsmn_init(&p);
    size_t cap = len / 16 + 16;
    if (cap > 1024) cap = 1024;
    jsmntok_t *tok = malloc(sizeof(*tok) * cap);
    if (!tok) return JSON_NOMEM;
    int n;
    while ((n = jsmn_parse(&p, text, len, tok, (unsigned)cap)) == JSMN_ERROR_NOMEM) {
        jsmntok_t *more = cap <= 0x7fffffff / 4 ? realloc(tok, sizeof(*tok) * cap * 4) : NULL;
        if (!more) { free(tok); return JSON_NOMEM; }
        tok = more;
        cap *= 4;
    }
    if (n <= 0) { free(tok); return -1; }
    doc->text = text;
    doc->len = len;
    doc->tok = tok;
    doc->ntok = n;
    if (validate(doc) != 0) { json_doc_free(doc); return -1; }
    /* strings must be valid UTF-8 with valid escapes (checked in place: no copy) */
    for (int i = 0; i < n; i++) {
        if (tok[i].type != JSMN_STRING) continue;
        if (!string_valid(text + tok[i].start, (size_t)(tok[i].end - tok[i].start))) {
            json_doc_free(doc);
            return -1;
        }
    }
    return 0;
}

void json_doc_free(struct json_doc *doc) {
    free(doc->tok);
    memset(doc, 0, sizeof(*doc));
}

int json_skip(const struct json_doc *doc, int i) {
    int pending = 1;
    while (pending > 0 && i < doc->ntok) {
        pending += doc->tok[i].size;
        pending--;
        i++;
    }
    return i;
}

int json_child(const struct json_doc *doc, int parent, int n) {
    if (parent < 0 || parent >= doc->ntok) return -1;
    const jsmntok_t *p = &doc->tok[parent];
    if ((p->type != JSMN_OBJECT && p->type != JSMN_ARRAY) || n < 0 || n >= p->size) return -1;
    int i = parent + 1;
    for (int k = 0; k < n; k++) i = json_skip(doc, i);
    return i;
}

int json_tok_eq(const struct json_doc *doc, int i, const char *s) {
    if (i < 0 || i >= doc->ntok || doc->tok[i].type != JSMN_STRING) return 0;
    const jsmntok_t *t = &doc->tok[i];
    size_t n = (size_t)(t->end - t->start);
    const char *raw = doc->text + t->start;
    if (!memchr(raw, '\\', n)) return strlen(s) == n && memcmp(raw, s, n) == 0;
    struct buf b;
    buf_init(&b);
    int eq = json_unescape(raw, n, &b) == 0 && b.len == strlen(s) && memcmp(b.data, s, b.len) == 0;
    buf_free(&b);
    return eq;
}

int json_get(const struct json_doc *doc, int obj, const char *name) {
    if (obj < 0 || obj >= doc->ntok || doc->tok[obj].type != JSMN_OBJECT) return -1;
    int i = obj + 1;
    for (int k = 0; k < doc->tok[obj].size; k++) {
        if (json_tok_eq(doc, i, name)) return i + 1;
        i = json_skip(doc, i);
    }
    return -1;
}

int json_tok_str(const struct json_doc *doc, int i, struct buf *out) {
    if (i < 0 || i >= doc->ntok || doc->tok[i].type != JSMN_STRING) return -1;
    const jsmntok_t *t = &doc->tok[i];
    return unescape(doc->text + t->start, (size_t)(t->end - t->start), out, 0); /* json_parse checked it */
}

int json_tok_ll(const struct json_doc *doc, int i, long long *out) {
    if (i < 0 || i >= doc->ntok || doc->tok[i].type != JSMN_PRIMITIVE) return -1;
    const jsmntok_t *t = &doc->tok[i];
    char tmp[32];
    size_t n = (size_t)(t->end - t->start);
    if (n == 0 || n >= sizeof(tmp)) return -1;
    memcpy(tmp, doc->text + t->start, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (*end || errno == ERANGE) return -1;
    *out = v;
    return 0;
}

/* ---- strings ------------------------------------------------------------------------------ */

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(struct buf *out, unsigned cp) {
    char u[4];
    if (cp < 0x80) { u[0] = (char)cp; buf_append(out, u, 1); }
    else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F));
        buf_append(out, u, 4);
    }
}

/* Length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min;
    if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; c &= 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; c &= 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return len;
}

int json_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        i += plain_run(p + i, n - i);
        if (i >= n) break;
        if (p[i] == 0) return 0;
        size_t l = utf8_len(p + i, n - i);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

/* checked 0: the string was validated by json_parse already, so runs are only searched for the
 * next backslash (memchr) and copied. */
static int unescape(const char *s, size_t n, struct buf *out, int checked) {
    const unsigned char *p = (const unsigned char *)s;
    if (buf_reserve(out, n) != 0) return -1; /* the result is never longer than the input */
    for (size_t i = 0; i < n;) {
        if (p[i] != '\\') {
            /* a run without escapes is copied in one append (the hot path of every hit:
             * answers are long strings with few escapes) */
            size_t run = i;
            if (!checked) {
                const char *bs = memchr(s + i, '\\', n - i);
                run = bs ? (size_t)(bs - s) : n;
            } else {
                while (run < n && p[run] != '\\') {
                    run += plain_run(p + run, n - run);
                    if (run >= n || p[run] == '\\') break;
                    if (p[run] < 0x20) return -1;
                    size_t l = utf8_len(p + run, n - run);
                    if (!l) return -1;
                    run += l;
                }
            }
            buf_append(out, s + i, run - i);
            i = run;
            continue;
        }
        if (i + 1 >= n) return -1;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"': buf_putc(out, '"'); break;
        case '\\': buf_putc(out, '\\'); break;
        case '/': buf_putc(out, '/'); break;
        case 'b': buf_putc(out, '\b'); break;
        case 'f': buf_putc(out, '\f'); break;
        case 'n': buf_putc(out, '\n'); break;
        case 'r': buf_putc(out, '\r'); break;
        case 't': buf_putc(out, '\t'); break;
        case 'u': {
            unsigned cp, lo;
            if (i + 4 > n || hex4(s + i, &cp) != 0) return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' &&
                hex4(s + i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            put_utf8(out, cp); /* a lone surrogate becomes WTF-8 */
            break;
        }
        default: return -1;
        }
    }
    return out->oom ? -1 : 0;
}

int json_unescape(const char *s, size_t n, struct buf *out) {
    return unescape(s, n, out, 1);
}

void json_escape(struct buf *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    buf_putc(out, '"');
    size_t run = 0; /* bytes copied verbatim in one append */
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0xED) { run++; continue; }
        const char *esc = NULL;
        char u[7];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) {
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
            u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = 0;
            esc = u;
        } else if (c == 0xED && i + 2 < n && p[i + 1] >= 0xA0) {
            /* WTF-8 surrogate: write it back as \uXXXX */
            unsigned cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
            buf_append(out, s + i - run, run);
            run = 0;
            buf_printf(out, "\\u%04x", cp);
            i += 2;
            continue;
        }
        if (!esc) { run++; continue; }
        buf_append(out, s + i - run, run);
        run = 0;
        buf_puts(out, esc);
    }
    buf_append(out, s + n - run, run);
    buf_putc(out, '"');
}

/* ---- numbers ------------------------------------------------------------------------------ */

/* Numbers are compared by their exact decimal value, never through a double: 1.0, 1 and 1e0
 * are one number, but 12345678901234567890.0 and 12345678901234567891.0 are two. The value is
 * read as sign, significant digits D (no leading or trailing zeros) and exponent E, value =
 * D x 10^E, and written one way: plain digits when that stays short, else "De<E>". Any
 * faithful spelling of a value would do; what matters is that one value has one spelling and
 * a spelling one value. An exponent too long to hold exactly keeps the number's own text. */
#define NUM_PLAIN_MAX 64

int json_number_canon(const char *s, size_t n, struct buf *out) {
    if (!number_ok(s, n)) return -1;
    size_t i = 0;
    int neg = s[0] == '-';
    if (neg) i++;
    const char *int_part = s + i;
    size_t int_len = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, int_len++;
    const char *frac = NULL;
    size_t frac_len = 0;
    if (i < n && s[i] == '.') {
        frac = s + ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, frac_len++;
    }
    long long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = s[i] == '-';
        if (s[i] == '-' || s[i] == '+') i++;
        while (i < n && s[i] == '0') i++;
        if (n - i > 15) return buf_append(out, s, n); /* beyond exact arithmetic here */
        for (; i < n; i++) exp = exp * 10 + (s[i] - '0');
        if (eneg) exp = -exp;
    }
    /* the digits of int_part then frac, as one run: skip leading zeros, drop trailing ones */
    size_t total = int_len + frac_len, lead = 0, trail = 0;
#define DIGIT(k) ((k) < int_len ? int_part[k] : frac[(k) - int_len])
    while (lead < total && DIGIT(lead) == '0') lead++;
    if (lead == total) return buf_putc(out, '0'); /* 0, -0, 0.000, 0e7 */
    while (DIGIT(total - 1 - trail) == '0') trail++;
    size_t dlen = total - lead - trail;
    long long e = exp - (long long)frac_len + (long long)trail; /* value = D x 10^e */
    if (neg) buf_putc(out, '-');
    if (e >= 0 && (long long)dlen + e <= NUM_PLAIN_MAX) { /* an integer */
        for (size_t k = lead; k < lead + dlen; k++) buf_putc(out, DIGIT(k));
        for (long long z = 0; z < e; z++) buf_putc(out, '0');
    } else if (e < 0 && -e <= NUM_PLAIN_MAX) { /* a plain decimal fraction */
        long long point = (long long)dlen + e; /* digits before the point */
        if (point <= 0) {
            buf_puts(out, "0.");
            for (long long z = 0; z < -point; z++) buf_putc(out, '0');
            for (size_t k = lead; k < lead + dlen; k++) buf_putc(out, DIGIT(k));
        } else {
            for (size_t k = lead; k < lead + dlen; k++) {
                if ((long long)(k - lead) == point) buf_putc(out, '.');
                buf_putc(out, DIGIT(k));
            }
        }
    } else {
        for (size_t k = lead; k < lead + dlen; k++) buf_putc(out, DIGIT(k));
        buf_printf(out, "e%lld", e);
    }
#undef DIGIT
    return out->oom ? -1 : 0;
}

/* ---- base64 (bodies that are not UTF-8) ---------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Binary answers (audio, images) run to megabytes: both directions write straight into the
 * buffer, without a call per byte. */
void base64_encode(struct buf *out, const unsigned char *p, size_t n) {
    size_t need = (n + 2) / 3 * 4;
    if (buf_reserve(out, need) != 0) return;
    char *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3, o += 4) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        o[0] = b64[v >> 18];
        o[1] = b64[(v >> 12) & 63];
        o[2] = b64[(v >> 6) & 63];
        o[3] = b64[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        o[0] = b64[v >> 18];
        o[1] = b64[(v >> 12) & 63];
        o[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        o[3] = '=';
    }
    out->len += need;
    out->data[out->len] = '\0';
}

/* The value of each base64 digit; 64 for every other byte. */
static unsigned char b64_value(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
         : c == '+' ? 62 : c == '/' ? 63 : 64;
}

int base64_decode(struct buf *out, const char *s, size_t n) {
    if (n % 4) return -1;
    static unsigned char table[256];
    static int ready; /* a race only computes the same table twice */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (int c = 0; c < 256; c++) table[c] = b64_value((unsigned char)c);
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    if (buf_reserve(out, n / 4 * 3) != 0) return -1;
    char *o = out->data + out->len;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i += 4) {
        int pad = i + 4 == n ? (u[i + 3] == '=') + (u[i + 3] == '=' && u[i + 2] == '=') : 0;
        unsigned a = table[u[i]], b = table[u[i + 1]], c = pad == 2 ? 0 : table[u[i + 2]], d = pad ? 0 : table[u[i + 3]];
        if ((a | b | c | d) & 64) return -1;
        unsigned v = a << 18 | b << 12 | c << 6 | d;
        *o++ = (char)(v >> 16);
        if (pad < 2) *o++ = (char)(v >> 8);
        if (pad < 1) *o++ = (char)v;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}
