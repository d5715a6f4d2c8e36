/* llmshim run: CMD with the shim preloaded and the given settings in its environment. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_file.h"
#include "llmshim.h"

static const char usage[] =
    "usage: llmshim run [--mode M] [--dir D] [--backend B] [--redis-url U] [--namespace NS] [--] CMD [ARGS...]\n"
    "\n"
    "Runs CMD with libllmshim.so in LD_PRELOAD (before any libraries already there), so\n"
    "that its libcurl calls to LLM APIs are cached. Each option sets the matching LLMSHIM_*\n"
    "variable for CMD; everything else comes from the environment and the config file.\n"
    "\n"
    "  --mode M        cache (default), record, replay, once or off\n"
    "  --dir D         cache directory (a relative one is taken from here)\n"
    "  --backend B     file, memory, redis, memory,file or memory,redis\n"
    "  --redis-url U   redis://host:port/db or unix:///path\n"
    "  --namespace NS  mixed into every key\n"
    "\n"
    "The library is looked up beside the command (the build tree) and in ../lib (installed).\n"
    "Exit status: CMD's; 2 when CMD is missing or a setting is wrong; 127 when CMD cannot run.\n";

/* <bindir>/libllmshim.so (build tree) or <bindir>/../lib/libllmshim.so (installed). */
static int find_library(char *out, size_t n) {
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0) return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    static const char *const rel[] = {"libllmshim.so", "../lib/libllmshim.so"};
    for (size_t i = 0; i < 2; i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
        if (access(cand, R_OK) == 0 && realpath(cand, out) && strlen(out) < n) return 0;
    }
    snprintf(out, n, "%s", exe);
    return -1;
}

static void say(const char *msg, void *ud) {
    (void)ud;
    note("%s", msg);
}

int cmd_run(int argc, char **argv) {
    int i = 1;
    for (; i < argc; i++) {
        if (flag(argv[i], "--")) {
            i++;
            break;
        }
        if (flag(argv[i], "--help") || flag(argv[i], "-h")) return help(usage);
        if (argv[i][0] != '-') break;
        if (flag(argv[i], "--config") || !strncmp(argv[i], "--config=", 9))
            return usage_error(usage, "--config goes before the verb: llmshim --config FILE run ...");
        if (!settings_opt(argc, argv, &i, usage)) return bad_arg(usage, argv[i]);
    }
    if (i >= argc) return usage_error(usage, "no command to run");
    tool_config(); /* a bad setting is reported here, not once per process inside CMD */
    extern char **environ;
    config_unknown_settings(environ, say, NULL);
    int once;
    enum mode m = tool_mode(&once);
    if (once) { /* one decision for the whole run, not one per process of CMD */
        note("--mode once: %s holds %s: %s", tool_config()->dir, m == MODE_REPLAY ? "entries" : "no entries",
             m == MODE_REPLAY ? "replaying" : "recording");
        tool_set("LLMSHIM_MODE", mode_name(m));
    }

    char lib[PATH_MAX];
    if (find_library(lib, sizeof(lib)) != 0)
        die(EXIT_FAIL, "cannot find libllmshim.so beside %s or in %s/../lib; reinstall llmshim (make install)", lib, lib);
    const char *old = getenv("LD_PRELOAD");
    size_t n = strlen(lib) + (old ? strlen(old) : 0) + 2;
    char *preload = malloc(n);
    if (!preload) die(EXIT_FAIL, "out of memory");
    snprintf(preload, n, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    const char **names, **values;
    size_t nov = tool_overrides(&names, &values);
    for (size_t k = 0; k < nov; k++) setenv(names[k], values[k], 1);
    setenv("LD_PRELOAD", preload, 1);
    free(preload);
    fflush(NULL);
    execvp(argv[i], argv + i);
    int e = errno;
    die(127, "cannot run %s: %s", argv[i], strerror(e));
}
