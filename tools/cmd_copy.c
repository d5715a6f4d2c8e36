/* llmshim export / import: copy entries between the configured backend and a cassette
 * directory (a file-store directory meant to be committed). Importing into Redis warms it. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "llmshim.h"

static const char usage_export[] =
    "usage: llmshim export DIR\n"
    "\n"
    "Copies every unexpired entry of the cache into DIR (created if needed), a file-store\n"
    "directory: a cassette to commit, or to import elsewhere. Entries are copied byte for\n"
    "byte, each to the name the shim looks it up by: <provider>/<model>/<key16>.json.\n"
    "Corrupt and expired ones are skipped and counted.\n";

static const char usage_import[] =
    "usage: llmshim import DIR\n"
    "\n"
    "Copies every unexpired entry of the file-store directory DIR (a cassette, or another\n"
    "cache) into the configured cache; with LLMSHIM_BACKEND=redis this warms Redis.\n"
    "Entries are named by their key, wherever DIR kept them (so a directory of an older\n"
    "layout is moved to the current one). Existing entries with the same key are replaced;\n"
    "corrupt and expired ones are skipped.\n";

struct copy {
    struct store *to;
    long long now;
    size_t seen, copied, corrupt, expired, unreadable;
    char *error; /* the first write failure: stops the copy */
};

static int copy_one(const struct store_key *k, const char *data, size_t len, void *ud) {
    struct copy *c = ud;
    progress("entries:", ++c->seen);
    struct entry e;
    const char *bad = entry_check(&e, k->hex, data, len);
    if (bad) {
        note("skipping %s: %s", k->name ? k->name : k->hex, bad);
        if (bad == entry_unreadable) c->unreadable++;
        else c->corrupt++;
        return 0;
    }
    if (!entry_fresh(&e, c->now)) {
        c->expired++;
        entry_free(&e);
        return 0;
    }
    /* named from the entry, never from where it was found: the source may be Redis (no
     * layout) or a directory of an older layout, and the name must be the one the shim looks up */
    char *name = call_entry_name(e.provider, e.model, e.key);
    struct store_key to = {e.key, name};
    long long expires = e.ttl ? e.created + e.ttl : 0;
    if (!name) c->error = strdup("out of memory");
    else if (store_put(c->to, &to, data, len, expires, &c->error) == 0) c->copied++;
    else if (!c->error) c->error = strdup("cannot write an entry");
    free(name);
    entry_free(&e);
    return c->error != NULL;
}

static int copy(struct store *from, struct store *to, const char *dest) {
    if (!from->ops->each) die(EXIT_FAIL, "the %s backend cannot list its entries", from->ops->name);
    struct copy c = {.to = to, .now = tool_now()};
    char *err = NULL;
    int rc = from->ops->each(from, copy_one, &c, &err);
    progress_done();
    store_close(from);
    store_close(to);
    int status = 0;
    if (c.error || rc != 0) {
        note("%s", c.error ? c.error : err ? err : "cannot list the entries");
        status = EXIT_FAIL;
    }
    printf("%s %zu entr%s to %s", status ? "stopped after copying" : "copied", c.copied, c.copied == 1 ? "y" : "ies",
           dest);
    if (c.expired) printf("; skipped %zu expired", c.expired);
    if (c.corrupt) printf("; skipped %zu corrupt (llmshim verify names them)", c.corrupt);
    if (c.unreadable) printf("; could not read %zu", c.unreadable);
    printf("\n");
    if (c.unreadable && !status) status = EXIT_FAIL; /* an entry left behind is not a whole copy */
    free(c.error);
    free(err);
    return status;
}

static int same_dir(const char *a, const char *b) {
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

int cmd_export(int argc, char **argv) {
    if (wants_help(argc, argv)) return help(usage_export);
    const char *dir = one_arg(argc, argv, usage_export, "export where? give a directory");
    struct store *from = open_backend(1);
    const struct config *cfg = tool_config();
    if (cfg->backend == BACKEND_FILE && same_dir(cfg->dir, dir))
        die(EXIT_USAGE, "%s is the cache directory itself; export into another directory", dir);
    return copy(from, open_dir(dir, 0), dir);
}

int cmd_import(int argc, char **argv) {
    if (wants_help(argc, argv)) return help(usage_import);
    const char *dir = one_arg(argc, argv, usage_import, "import from where? give a directory");
    struct store *from = open_dir(dir, 1);
    const struct config *cfg = tool_config();
    if (cfg->backend == BACKEND_FILE && same_dir(cfg->dir, dir))
        die(EXIT_USAGE, "%s is the cache directory itself; nothing to import", dir);
    struct store *to = open_backend(0);
    return copy(from, to, backend_label());
}
