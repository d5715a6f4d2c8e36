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
    struct redis_url u;
    memset(&u, 0x5a, sizeof(u)); /* garbage in, so that an unset field shows */
    char *err = NULL;
    if (redis_url_parse(text, &u, &err) == 0) {
        if (err) abort();
        if (!memchr(u.host, 0, sizeof(u.host)) || !memchr(u.path, 0, sizeof(u.path)) ||
            !memchr(u.user, 0, sizeof(u.user)) || !memchr(u.password, 0, sizeof(u.password)))
            abort();
        if (u.db < 0 || (u.is_unix ? u.path[0] != '/' : (u.port < 1 || u.port > 65535 || !u.host[0]))) abort();
        char label[8], big[1024], want[1024];
        redis_url_label(&u, label, sizeof(label));
        redis_url_label(&u, big, sizeof(big));
        if (strlen(label) >= sizeof(label)) abort();
        /* the label is for messages: made of the address alone, never the user or password */
        if (u.is_unix) snprintf(want, sizeof(want), "%s", u.path);
        else snprintf(want, sizeof(want), strchr(u.host, ':') ? "[%s]:%d" : "%s:%d", u.host, u.port);
        if (strcmp(big, want) != 0) abort();
    } else {
        if (!err || strncmp(err, "redis URL: ", 11) != 0) abort();
        free(err);
    }
    free(text);
    return 0;
}
