/* llmshim (the command): what the verbs share. Settings come from the command line, then the
 * environment, then the config file; stores are opened the way the shim opens them. */
#ifndef LLMSHIM_TOOL_H
#define LLMSHIM_TOOL_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "config.h"
#include "entry.h"
#include "store.h"

#define EXIT_FAIL 1  /* something went wrong while doing it */
#define EXIT_USAGE 2 /* the command line (or a setting) is wrong */

#define DEFAULT_REDIS_URL "redis://127.0.0.1:6379/0"

extern const char *tool_verb; /* "ls", ...: the prefix of every message */

/* ---- messages (cmd_common.c) ---- */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the problem, the usage line(s) and a --help hint to stderr; returns EXIT_USAGE. */
int usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Counter on stderr ("\r" line) when stderr is a terminal; silent otherwise. */
void progress(const char *what, size_t n);
void progress_done(void);

/* ---- options ---- */
/* 1 when argv[*i] is --name (taking a value: "--name V" or "--name=V"; *i is advanced past
 * it), 0 when it is not; a missing value exits with a usage error. */
int opt(int argc, char **argv, int *i, const char *name, const char **value, const char *usage);
int flag(const char *arg, const char *name);
/* A global settings option (--mode, --dir, ...) at argv[*i]: 1 taken, 0 not one. */
int settings_opt(int argc, char **argv, int *i, const char *usage);
int wants_help(int argc, char **argv);
/* "unknown option" (with a hint: a setting that goes before the verb, or the nearest option of
 * the usage) or "unexpected argument"; returns EXIT_USAGE. */
int bad_arg(const char *usage, const char *arg);
/* The option named in text (--word) nearest to arg, within two edits, or NULL. */
const char *nearest_option(const char *text, const char *arg);
/* The one positional argument of a verb; anything else exits with a usage error. */
const char *one_arg(int argc, char **argv, const char *usage, const char *missing);
int help(const char *usage);

/* ---- settings ---- */
void tool_set(const char *name, const char *value); /* a command-line setting */
const char *tool_lookup(const char *name);
const char *tool_source(const char *name); /* "command line", "environment", a path, "default" */
size_t tool_overrides(const char ***names, const char ***values);
/* The effective settings; an invalid one (or a broken config file) exits with its reason. */
const struct config *tool_config(void);

/* ---- stores ---- */
/* The configured backend. must_exist: a file store directory that does not exist is an error
 * (nothing to read), else it is created. Exits on failure. */
struct store *open_backend(int must_exist);
const char *backend_label(void); /* "/path (file)", "redis://... (redis)" */
/* A file-store directory given on the command line (export/import). */
struct store *open_dir(const char *dir, int must_exist);

/* Every entry of a store, summarized (ls, prune, purge, verify). */
struct rec {
    char hex[65];
    char *name;       /* may be NULL (stores without a file layout) */
    size_t size;
    const char *bad;  /* why it is corrupt, or NULL */
    long long created, ttl;
    long long used; /* when it last answered a request (recs_load_used), 0 = never noted */
    char *provider, *model, *prompt;
};
struct recs {
    struct rec *v;
    size_t n, cap;
};
/* what: the progress label. with_prompt: also fill provider/model/prompt. Exits on error. */
void recs_load(struct store *s, struct recs *r, const char *what, int with_prompt);
void recs_free(struct recs *r);
/* Not used since `since` and recorded before it (cmd_ls.c). */
int rec_unused(const struct rec *x, long long since);
/* Fills each rec's `used` from the store's usage marks; exits when the store keeps none. */
void recs_load_used(struct store *s, struct recs *r);
const char *rec_label(const struct rec *r); /* name, else the key */
/* Why data is not a usable entry stored under hex (the store's name for it: a key, or a file
 * stem that must be a prefix of the key), or NULL (e filled, free it) when it is. */
const char *entry_check(struct entry *e, const char *hex, const char *data, size_t len);
/* What entry_check says of an entry the store could not read (data NULL): not corrupt. */
extern const char entry_unreadable[];
long long tool_now(void);
/* The mode the shim would run in now: once resolved by whether the directory holds entries
 * (*once set to 1 when it was once). */
enum mode tool_mode(int *once);

/* ---- formatting (cmd_format.c) ---- */
void fmt_size(char *out, size_t n, long long bytes);
void fmt_age(char *out, size_t n, long long seconds);
void fmt_us(char *out, size_t n, long long us);
/* "500M", "2g", "1024": bytes. "30d", "12h", "90m", "45s", "2w": seconds. 0 or -1. */
int parse_bytes(const char *s, long long *out);
int parse_duration(const char *s, long long *out);
/* A point in time: "@1700000000" (unix seconds, as date +%s prints), an age ("2h": that long
 * before now), or a UTC date "2025-06-01" / "2025-06-01T12:00[:00][Z]". 0 or -1. */
int parse_when(const char *s, long long now, long long *out);
/* The last user prompt of a request body, whitespace collapsed, at most max bytes. */
char *prompt_of(const char *body, size_t len, int json, size_t max);
/* Indented JSON; -1 (nothing appended) when text is not JSON. */
int json_pretty(struct buf *out, const char *text, size_t len);
void put_json_str(FILE *f, const char *s);

/* ---- prices (prices.c) ---- */
struct price {
    double input, output, cached; /* US dollars per million tokens */
    int has_cached;
};
/* The built-in table, then $LLMSHIM_PRICES (a bad file exits with EXIT_USAGE). */
void prices_load(void);
/* The price of a provider's model, or NULL when the tables have none. */
const struct price *price_of(const char *provider, const char *model);
/* What the tokens a row saved would have cost: 0, or -1 when there is no price (or the row's
 * tokens were counted without their kind). */
int dollars_saved(const struct stats_row *r, double *out);

/* ---- verbs ---- */
int cmd_run(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_config(int argc, char **argv);

#endif
