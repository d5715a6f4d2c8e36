/* llmshim: the command around libllmshim.so. `llmshim [SETTINGS] VERB [ARGS]`: run a program
 * under the shim, and look after the cache it fills. Each verb lives in a tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "config_file.h"
#include "entry.h"
#include "version.h"
#include "llmshim.h"


static const char usage[] =
    "usage: llmshim [SETTINGS] VERB [ARGS...]\n"
    "       llmshim --help | --version | VERB --help\n";

static const char overview[] =
    "\n"
    "Runs programs under the LLM call cache (libllmshim.so) and looks after the cache.\n"
    "\n"
    "verbs:\n"
    "  run [OPTIONS] -- CMD ARGS...  run CMD with the shim preloaded\n"
    "  stats [--json|--prometheus]   hits, misses, savings per provider and model\n"
    "  ls [--json]                   one line per cached answer\n"
    "  show KEY                      one answer and its request (KEY: 6+ hex digits)\n"
    "  key [--explain] [--url URL]   the key the shim gives the request on stdin\n"
    "  export DIR                    copy every entry into a cassette directory\n"
    "  import DIR                    copy a cassette directory into the cache\n"
    "  prune [--expired] [--older-than AGE] [--max-size SIZE] [--dry-run]\n"
    "                                remove old entries and stale temporary files\n"
    "  purge [--yes]                 remove every entry\n"
    "  verify                        read every entry, report the corrupt ones\n"
    "  config                        the effective settings and where each comes from\n"
    "\n"
    "SETTINGS (before the verb; each overrides its LLMSHIM_* variable for this command):\n"
    "  --mode M          LLMSHIM_MODE: cache, record, replay, once, off\n"
    "  --dir D           LLMSHIM_DIR: the cache directory (file backend)\n"
    "  --backend B       LLMSHIM_BACKEND: file, memory, redis\n"
    "  --redis-url U     LLMSHIM_REDIS_URL\n"
    "  --namespace NS    LLMSHIM_NAMESPACE\n"
    "  --config FILE     read settings from FILE (LLMSHIM_CONFIG)\n"
    "\n"
    "Settings come from these options, then the environment, then the config file\n"
    "($LLMSHIM_CONFIG, ./.llmshim, ~/.config/llmshim/config).\n"
    "\n"
    "Exit status: 0 done; 1 the operation failed; 2 a bad command line, option value or\n"
    "setting (from the command line, the environment or the config file). run: CMD's.\n"
    "See llmshim(1).\n";

static const struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
} verbs[] = {
    {"run", cmd_run},         {"stats", cmd_stats},   {"ls", cmd_ls},         {"show", cmd_show},
    {"key", cmd_key},         {"export", cmd_export}, {"import", cmd_import}, {"prune", cmd_prune},
    {"purge", cmd_purge},     {"verify", cmd_verify}, {"config", cmd_config},
};

/* Options of the verbs, for a hint when one is given before the verb. */
static const struct {
    const char *opt, *verbs, *example;
} verb_opts[] = {
    {"--json", "ls and stats", "llmshim stats --json"},
    {"--prometheus", "stats", "llmshim stats --prometheus"},
    {"--explain", "key", "llmshim key --explain < request.json"},
    {"--url", "key", "llmshim key --url URL < request.json"},
    {"--method", "key", "llmshim key --method M < request.json"},
    {"--expired", "prune", "llmshim prune --expired"},
    {"--older-than", "prune", "llmshim prune --older-than 30d"},
    {"--max-size", "prune", "llmshim prune --max-size 500M"},
    {"--unused-since", "ls and prune", "llmshim ls --unused-since @START"},
    {"--dry-run", "prune", "llmshim prune --dry-run"},
    {"--yes", "purge", "llmshim purge --yes"},
};

static int unknown_option(const char *arg) {
    size_t n = strcspn(arg, "=");
    for (size_t k = 0; k < sizeof(verb_opts) / sizeof(verb_opts[0]); k++)
        if (strlen(verb_opts[k].opt) == n && !strncmp(arg, verb_opts[k].opt, n))
            return usage_error(usage, "'%s' is an option of %s and goes after the verb (%s)", arg, verb_opts[k].verbs,
                               verb_opts[k].example);
    const char *near = nearest_option(overview, arg);
    if (near) return usage_error(usage, "unknown option '%s'; did you mean '%s'? (settings go before the verb)", arg, near);
    return usage_error(usage, "unknown option '%s' (settings go before the verb)", arg);
}

static int unknown_verb(const char *arg) {
    const char *best = NULL;
    size_t best_d = strlen(arg) > 4 ? 3 : 2;
    for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
        size_t d = text_distance(arg, verbs[v].name);
        if (d < best_d) {
            best_d = d;
            best = verbs[v].name;
        }
    }
    if (best) return usage_error(usage, "unknown verb '%s'; did you mean '%s'?", arg, best);
    return usage_error(usage, "unknown verb '%s'", arg);
}

int main(int argc, char **argv) {
    int i = 1;
    tool_verb = NULL;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (flag(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s%s", usage, overview);
            return 0;
        }
        if (flag(argv[i], "--version")) {
            printf("llmshim %s\nentry format %d (reads 1 to %d), keys %s\n", LLMSHIM_VERSION, ENTRY_VERSION,
                   ENTRY_VERSION, KEY_VERSION);
            return 0;
        }
        if (!settings_opt(argc, argv, &i, usage)) return unknown_option(argv[i]);
    }
    if (i >= argc) return usage_error(usage, "no verb given");
    for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
        if (strcmp(argv[i], verbs[v].name) != 0) continue;
        tool_verb = verbs[v].name;
        return verbs[v].fn(argc - i, argv + i);
    }
    return unknown_verb(argv[i]);
}
