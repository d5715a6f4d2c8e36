/* comma_locale.h: for unit tests that must prove a host program's decimal-comma locale changes
 * nothing: switches the process to such a locale (an installed one, else de_DE compiled with
 * localedef into a temporary LOCPATH) and back. Included by the tests that need it. */
#ifndef LLMSHIM_TEST_COMMA_LOCALE_H
#define LLMSHIM_TEST_COMMA_LOCALE_H

#include <ftw.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int decimal_comma_active(void) {
    char s[16];
    snprintf(s, sizeof(s), "%.1f", 0.5);
    return strcmp(s, "0,5") == 0;
}

/* Switches the process to a locale whose decimal separator is a comma. Tries installed locales
 * first, then compiles de_DE into a temporary LOCPATH with localedef. Returns the locale name or
 * NULL; *tmpdir is set when a directory was created. */
static const char *enter_comma_locale(char *tmpdir, size_t tmpdir_size) {
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "de_DE", "fr_FR.UTF-8", "fr_FR.utf8",
                                        "es_ES.UTF-8", "it_IT.UTF-8", "nl_NL.UTF-8", "ru_RU.UTF-8",
                                        "pt_BR.UTF-8"};
    tmpdir[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (setlocale(LC_ALL, names[i]) && decimal_comma_active()) return names[i];
    setlocale(LC_ALL, "C");
    if (access("/usr/bin/localedef", X_OK) != 0) return NULL;
    snprintf(tmpdir, tmpdir_size, "/tmp/llmshim-locale-XXXXXX");
    if (!mkdtemp(tmpdir)) { tmpdir[0] = '\0'; return NULL; }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "/usr/bin/localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", tmpdir);
    if (system(cmd) == -1) return NULL;
    setenv("LOCPATH", tmpdir, 1);
    if (setlocale(LC_ALL, "de_DE.UTF-8") && decimal_comma_active()) return "de_DE.UTF-8";
    setlocale(LC_ALL, "C");
    return NULL;
}

static void leave_comma_locale(const char *tmpdir) {
    setlocale(LC_ALL, "C");
    unsetenv("LOCPATH");
    if (tmpdir[0]) nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
