/* config_file: settings from a file with the environment variables' names (NAME=value lines),
 * for people who would rather not export a dozen LLMSHIM_* variables. The environment wins.
 * Search order: $LLMSHIM_CONFIG, else ./.llmshim, else $XDG_CONFIG_HOME/llmshim/config
 * (else ~/.config/llmshim/config); the first one that exists is the only one read. */
#ifndef LLMSHIM_CONFIG_FILE_H
#define LLMSHIM_CONFIG_FILE_H

#include <stddef.h>

#include "config.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* a settings file larger than this is a mistake */

struct config_setting {
    char *name;
    char *value;
};

struct config_file {
    char *path;
    struct config_setting *items;
    size_t n;
    char *error; /* "PATH:LINE: what is wrong"; when set, no setting of the file is used */
};

/* Every setting name the shim and the command know, NULL-terminated. */
extern const char *const config_setting_names[];
int config_setting_known(const char *name);
/* Edit distance with transpositions between two names of at most 63 bytes (else SIZE_MAX). */
size_t text_distance(const char *a, const char *b);
/* The known setting a misspelt name most likely meant (at most 3 edits away), or NULL. */
const char *config_setting_nearest(const char *name);
/* Calls say once for each LLMSHIM_* variable in env (NAME=value strings, NULL-terminated) that
 * is not a setting, with "NAME: unknown setting; did you mean ...?". Returns how many. */
int config_unknown_settings(char *const *env, void (*say)(const char *msg, void *ud), void *ud);

/* Pure: parses text into cf (path only names it in errors). 0, or -1 with cf->error set.
 * Free with config_file_free either way. */
int config_file_parse(struct config_file *cf, const char *path, const char *text, size_t len);
/* Reads and parses path; refuses a file that another user owns or anyone may write. */
int config_file_load(struct config_file *cf, const char *path);
/* The file to read (caller frees), or NULL: *err is set only when $LLMSHIM_CONFIG names a file
 * that cannot be used. get looks up LLMSHIM_CONFIG, XDG_CONFIG_HOME and HOME. */
char *config_file_find(config_lookup get, char **err);
/* The file's value for name, or NULL. */
const char *config_file_get(const struct config_file *cf, const char *name);
void config_file_free(struct config_file *cf);

/* Process-wide, thread-safe; the file is found and read once, at the first call.
 * config_getenv: a drop-in for getenv in config_parse: the environment (when set and not
 * empty), then the file. config_source: "environment", the file's path, or "default". */
const char *config_getenv(const char *name);
const char *config_source(const char *name);
const char *config_file_path(void);  /* the file in use, or NULL */
const char *config_file_error(void); /* why the file is ignored, or NULL */

#endif
