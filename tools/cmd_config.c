/* llmshim config: every setting, its effective value, and where that value comes from. */
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "redis_tls.h"
#include "redis_url.h"
#include "llmshim.h"

static const char usage[] =
    "usage: llmshim config\n"
    "\n"
    "Prints every LLMSHIM_* setting with its effective value and its source: the command\n"
    "line, the environment, the config file (its path), or the default. The config file is\n"
    "the first of $LLMSHIM_CONFIG, ./.llmshim, $XDG_CONFIG_HOME/llmshim/config (else\n"
    "~/.config/llmshim/config): NAME=value lines, # comments; the environment wins.\n"
    "Exit status 2 when a setting or the config file is invalid.\n";

/* What the shim will use: parsed values where config.c has them, else the text as given. */
static void effective(const struct config *c, const char *name, char *out, size_t n) {
    const char *raw = tool_lookup(name);
    char a[16];
    if (!strcmp(name, "LLMSHIM_MODE")) {
        snprintf(out, n, "%s", mode_name(c->mode));
    } else if (!strcmp(name, "LLMSHIM_DIR")) {
        snprintf(out, n, "%s", c->dir ? c->dir : "(none: HOME is not set)");
    } else if (!strcmp(name, "LLMSHIM_TTL")) {
        /* the largest unit that divides it: 3600 reads back as 1h, as it would be written */
        long long t = c->ttl, d = t % 86400 == 0 ? 86400 : t % 3600 == 0 ? 3600 : t % 60 == 0 ? 60 : 1;
        if (t) snprintf(out, n, "%lld (%lld%c)", t, t / d, d == 86400 ? 'd' : d == 3600 ? 'h' : d == 60 ? 'm' : 's');
        else snprintf(out, n, "0 (never expires)");
    } else if (!strcmp(name, "LLMSHIM_LOG")) {
        snprintf(out, n, "%s", c->log == LOG_OFF ? "off" : c->log == LOG_INFO ? "info" : "debug");
    } else if (!strcmp(name, "LLMSHIM_MEM_MAX_ENTRIES")) {
        snprintf(out, n, "%zu", c->mem_max_entries);
    } else if (!strcmp(name, "LLMSHIM_MEM_MAX_BYTES") || !strcmp(name, "LLMSHIM_MAX_ENTRY_BYTES")) {
        size_t v = !strcmp(name, "LLMSHIM_MEM_MAX_BYTES") ? c->mem_max_bytes : c->max_entry_bytes;
        fmt_size(a, sizeof(a), (long long)v);
        snprintf(out, n, "%zu (%s)", v, a);
    } else if (!strcmp(name, "LLMSHIM_BACKEND")) {
        snprintf(out, n, "%s", raw ? raw : "file");
    } else if (!strcmp(name, "LLMSHIM_REDIS_URL")) {
        redis_url_redact(raw ? raw : DEFAULT_REDIS_URL, out, n); /* a password is never shown */
    } else if (!strcmp(name, "LLMSHIM_SENTINEL_PASSWORD")) {
        snprintf(out, n, "%s", raw && *raw ? "(set, not shown)" : "");
    } else if (!strcmp(name, "LLMSHIM_REDIS_CA")) {
        snprintf(out, n, "%s", raw && *raw ? raw : c->backend == BACKEND_REDIS ? "(the system's: " RTLS_SYSTEM_CA ")" : "");
    } else {
        snprintf(out, n, "%s", raw ? raw : "");
    }
}

static void say(const char *msg, void *ud) {
    (void)ud;
    note("%s", msg);
}

int cmd_config(int argc, char **argv) {
    if (wants_help(argc, argv)) return help(usage);
    if (argc > 1) return bad_arg(usage, argv[1]);
    extern char **environ;
    config_unknown_settings(environ, say, NULL);
    const char *ferr = config_file_error(), *path = config_file_path();
    if (ferr) printf("config file: %s\n  error: %s\n  (its settings are not used)\n", path ? path : "-", ferr);
    else if (path) printf("config file: %s\n", path);
    else printf("config file: none ($LLMSHIM_CONFIG, ./.llmshim, ~/.config/llmshim/config)\n");
    struct config c;
    config_parse(&c, tool_lookup);
    int w = 0;
    for (const char *const *n = config_setting_names; *n; n++) w = (int)strlen(*n) > w ? (int)strlen(*n) : w;
    printf("\n%-*s  %-28s  %s\n", w, "SETTING", "VALUE", "SOURCE");
    for (const char *const *n = config_setting_names; *n; n++) {
        char v[4200];
        effective(&c, *n, v, sizeof(v));
        printf("%-*s  %-28s  %s\n", w, *n, v[0] ? v : "-", tool_source(*n));
    }
    int status = ferr ? EXIT_USAGE : 0;
    if (c.error) {
        note("invalid setting: %s; the shim passes every call through until it is fixed", c.error);
        status = EXIT_USAGE;
    }
    config_free(&c);
    return status;
}
