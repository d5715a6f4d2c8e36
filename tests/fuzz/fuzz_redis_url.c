/* fuzz_redis_url: redis_url_parse on any text. Checks, besides the sanitizers: a parsed URL is
 * usable (fields NUL-terminated and in range), a failed one says why, and the label fits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char shown[64], shown_big[8192];
    redis_url_redact(text, shown, sizeof(shown));
    redis_url_redact(text, shown_big, sizeof(shown_big));
    if (strlen(shown) >= sizeof(shown) || strncmp(shown, shown_big, strlen(shown)) != 0) abort();
    struct redis_url u;
    memset(&u, 0x5a, sizeof(u)); /* garbage in, so that an unset field shows */
    char *err = NULL;
    if (redis_url_parse(text, &u, &err) == 0) {
        if (err) abort();
        if (!memchr(u.path, 0, sizeof(u.path)) || !memchr(u.master, 0, sizeof(u.master)) ||
            !memchr(u.user, 0, sizeof(u.user)) || !memchr(u.password, 0, sizeof(u.password)))
            abort();
        if (u.db < 0 || u.naddr < 1 || u.naddr > REDIS_URL_MAX_HOSTS || (u.is_unix && u.path[0] != '/')) abort();
        if ((u.topology == REDIS_SENTINEL) != (u.master[0] != '\0') || (u.topology == REDIS_CLUSTER && u.db)) abort();
        for (int i = 0; !u.is_unix && i < u.naddr; i++)
            if (!memchr(u.addr[i].host, 0, sizeof(u.addr[i].host)) || !u.addr[i].host[0] || u.addr[i].port < 1 ||
                u.addr[i].port > 65535)
                abort();
        char label[8], big[8192], want[8192];
        redis_url_label(&u, label, sizeof(label));
        redis_url_label(&u, big, sizeof(big));
        if (strlen(label) >= sizeof(label)) abort();
        /* the label is for messages: made of the addresses alone, never the user or password */
        size_t n = 0;
        if (u.is_unix) n = (size_t)snprintf(want, sizeof(want), "%s", u.path);
        else if (u.topology == REDIS_SENTINEL) n = (size_t)snprintf(want, sizeof(want), "primary '%s' via ", u.master);
        for (int i = 0; !u.is_unix && i < u.naddr; i++)
            n += (size_t)snprintf(want + n, sizeof(want) - n, strchr(u.addr[i].host, ':') ? "%s[%s]:%d" : "%s%s:%d",
                                  i ? "," : "", u.addr[i].host, u.addr[i].port);
        if (strcmp(big, want) != 0) abort();
    } else {
        if (!err || strncmp(err, "redis URL: ", 11) != 0) abort();
        free(err);
    }
    free(text);
    return 0;
}
