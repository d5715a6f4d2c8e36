#include "entry_memo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "forksafe.h"

struct slot {
    char hex[65];
    char *raw;
    size_t len;
    size_t bytes; /* what this slot holds: raw + the decoded body and request */
    struct entry e;
};

static struct slot slots[ENTRY_MEMO_SLOTS];
static size_t held;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
    forksafe_register(&lock); /* a thread inside the memo must not freeze a forked child */
}

/* Direct-mapped by the key's first hex digits: a key is a uniform hash already. */
static struct slot *slot_of(const char *hex) {
    unsigned v = 0;
    for (int i = 0; i < 4 && hex[i]; i++) v = v * 16 + (unsigned)(hex[i] <= '9' ? hex[i] - '0' : (hex[i] | 32) - 'a' + 10);
    return &slots[v % ENTRY_MEMO_SLOTS];
}

static void slot_clear(struct slot *s) {
    held -= s->bytes;
    free(s->raw);
    entry_free(&s->e);
    memset(s, 0, sizeof(*s));
}

int entry_memo_find(const char *hex, const char *raw, size_t len, struct entry *out) {
    if (!hex || strlen(hex) != 64) return 0;
    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    struct slot *s = slot_of(hex);
    int found = s->raw && s->len == len && !memcmp(s->hex, hex, 65) && !memcmp(s->raw, raw, len) &&
                entry_copy(out, &s->e) == 0;
    pthread_mutex_unlock(&lock);
    return found;
}

void entry_memo_keep(const char *hex, const char *raw, size_t len, const struct entry *e) {
    if (!hex || strlen(hex) != 64) return;
    size_t bytes = len + e->body_len + e->req_body_len;
    if (bytes > ENTRY_MEMO_MAX_BYTES / 4) return; /* one huge answer must not take every slot */
    struct slot fresh = {.len = len, .bytes = bytes};
    memcpy(fresh.hex, hex, 65);
    fresh.raw = malloc(len ? len : 1);
    if (!fresh.raw || entry_copy(&fresh.e, e) != 0 || entry_share_body(&fresh.e) != 0) {
        free(fresh.raw);
        entry_free(&fresh.e);
        return;
    }
    if (len) memcpy(fresh.raw, raw, len);
    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    struct slot *s = slot_of(hex);
    slot_clear(s);
    /* over the byte budget: free other slots, oldest-placed first is not tracked, so in order */
    for (int i = 0; held + bytes > ENTRY_MEMO_MAX_BYTES && i < ENTRY_MEMO_SLOTS; i++) slot_clear(&slots[i]);
    *s = fresh;
    held += bytes;
    pthread_mutex_unlock(&lock);
}

void entry_memo_clear(void) {
    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ENTRY_MEMO_SLOTS; i++) slot_clear(&slots[i]);
    pthread_mutex_unlock(&lock);
}
