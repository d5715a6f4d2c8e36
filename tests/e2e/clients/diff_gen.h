/* diff_gen.h: the random mode of diff.c (included once, by it): sequences of valid steps drawn
 * from diff.c's vocabulary with a private PRNG, so a seed gives the same script everywhere.
 * Valid means: a handle is performed or added only with a URL and outside the multi, removed only
 * when added, reset only outside the multi, cleaned up after its remove; POST 1 only with a body.
 * Prompts all have five letters (see callback_progress.txt: libcurl takes the body's length
 * before the first progress call, so a swap in that callback must not change it). */
#ifndef LLMSHIM_TEST_DIFF_GEN_H
#define LLMSHIM_TEST_DIFF_GEN_H

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) { /* splitmix64: the same numbers on every machine */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) % n);
}
#define PICK(arr) (arr)[rnd(sizeof(arr) / sizeof((arr)[0]))]

/* What the generator knows of a handle. A deferred step may never run: it teaches nothing. */
struct gh { int exists, in_multi, pending, url, body; };
#define GMAX 4
#define GLINE 128
typedef char gline[GLINE];

static void gen_url(char *s, int i, struct gh *g) {
    static const char *const where[] = {"llm1", "llm1", "llm1", "llm2", "plain1"};
    snprintf(s, GLINE, "url h%d %s", i + 1, PICK(where));
    g->url = 1;
}

static void gen_body(char *s, int i, struct gh *g) {
    static const char *const prompt[] = {"alpha", "bravo", "gamma", "delta"};
    static const char *const how[] = {"fields", "fields", "fields", "copy"};
    snprintf(s, GLINE, "%s h%d %s", PICK(how), i + 1, PICK(prompt));
    g->body = 1;
}

/* An option step (one the callbacks may run too). */
static void gen_option(char *s, int i, struct gh *g, int deferred) {
    static const char *const prompt[] = {"alpha", "bravo", "gamma", "delta"};
    static const char *const verb[] = {"post", "POST", "-", "-"};
    static const char *const redir[] = {"0", "0", "301", "302", "303", "307", "308"};
    static const char *const postredir[] = {"0", "1", "2", "4", "7"};
    struct gh scratch = *g;
    struct gh *t = deferred ? &scratch : g;
    switch (rnd(14)) {
    case 0: case 1: gen_url(s, i, t); break;
    case 2: case 3: case 4: gen_body(s, i, t); break;
    case 5: snprintf(s, GLINE, "edit h%d %s", i + 1, PICK(prompt)); break;
    case 6: snprintf(s, GLINE, "post h%d %d", i + 1, g->body ? (int)rnd(2) : 0); break;
    case 7: snprintf(s, GLINE, "httpget h%d", i + 1); break;
    case 8: snprintf(s, GLINE, "method h%d %s", i + 1, PICK(verb)); break;
    case 9: snprintf(s, GLINE, "follow h%d %u", i + 1, rnd(2)); break;
    case 10: snprintf(s, GLINE, "postredir h%d %s", i + 1, PICK(postredir)); break;
    case 11: snprintf(s, GLINE, "redirect h%d %s", i + 1, PICK(redir)); break;
    case 12: snprintf(s, GLINE, "status h%d %s", i + 1, rnd(3) ? "0" : "500"); break;
    default: snprintf(s, GLINE, "port h%d %s", i + 1, rnd(2) ? "0" : "2"); break;
    }
}

/* Draws one step (a new handle or a reset come with a URL and a body): the number of lines
 * written to out, 0 when the step drawn does not fit the state (the caller draws again). */
static int gen_step(gline *out, struct gh *g) {
    int live[GMAX], nlive = 0, free_slot = -1, pending = 0;
    for (int i = 0; i < GMAX; i++) {
        if (g[i].exists) live[nlive++] = i;
        else if (free_slot < 0) free_slot = i;
        pending |= g[i].pending;
    }
    uint32_t r = rnd(100);
    if (!nlive || (r < 5 && free_slot >= 0)) {
        struct gh *h = &g[free_slot];
        *h = (struct gh){.exists = 1};
        snprintf(out[0], GLINE, "new h%d", free_slot + 1);
        gen_url(out[1], free_slot, h);
        gen_body(out[2], free_slot, h);
        return 3;
    }
    int i = live[rnd((uint32_t)nlive)];
    struct gh *h = &g[i];
    if (r < 30) return gen_option(out[0], i, h, 0), 1;
    if (r < 32) return snprintf(out[0], GLINE, "connectonly h%d %u", i + 1, rnd(3) == 0), 1;
    if (r < 36) {
        if (h->in_multi) return 0;
        snprintf(out[0], GLINE, "reset h%d", i + 1);
        *h = (struct gh){.exists = 1};
        gen_url(out[1], i, h);
        if (rnd(3) == 0) return 2;
        gen_body(out[2], i, h);
        return 3;
    }
    if (r < 40) {
        if (free_slot < 0) return 0;
        g[free_slot] = (struct gh){.exists = 1, .url = h->url, .body = h->body};
        return snprintf(out[0], GLINE, "dup h%d h%d", i + 1, free_slot + 1), 1;
    }
    if (r < 58) {
        if (!h->url || h->in_multi) return 0;
        return snprintf(out[0], GLINE, "perform h%d", i + 1), 1;
    }
    if (r < 70) {
        if (!h->url || h->in_multi) return 0;
        h->in_multi = h->pending = 1;
        return snprintf(out[0], GLINE, "add h%d", i + 1), 1;
    }
    if (r < 75) {
        if (!h->in_multi) return 0;
        h->in_multi = h->pending = 0;
        return snprintf(out[0], GLINE, "remove h%d", i + 1), 1;
    }
    if (r < 87) {
        if (!pending) return 0;
        for (int k = 0; k < GMAX; k++) g[k].pending = 0;
        return snprintf(out[0], GLINE, "run"), 1;
    }
    if (r < 97) {
        static const char *const kinds[] = {"progress", "write", "header"};
        int n = snprintf(out[0], GLINE, "defer %s ", PICK(kinds));
        return gen_option(out[0] + n, i, h, 1), 1;
    }
    if (h->in_multi) return 0;
    h->exists = 0;
    return snprintf(out[0], GLINE, "cleanup h%d", i + 1), 1;
}

/* K sequences of about N steps, each printed as comments, then run, then cleaned up. */
static int gen_run(unsigned long long seed, int sequences, int steps) {
    if (sequences < 0 || steps < 1 || steps > 1000) return 2;
    gline *script = malloc(sizeof(*script) * (size_t)(steps + 4 + 2 * GMAX + 1));
    if (!script) return 2;
    for (int q = 1; q <= sequences; q++) {
        rng_state = seed * 1000003ull + (unsigned long long)q; /* each sequence on its own */
        struct gh g[GMAX];
        memset(g, 0, sizeof(g));
        int n = 0;
        while (n < steps) n += gen_step(script + n, g);
        for (int i = 0; i < GMAX; i++)
            if (g[i].pending) {
                snprintf(script[n++], GLINE, "run");
                break;
            }
        for (int i = 0; i < GMAX; i++) {
            if (g[i].exists && g[i].in_multi) snprintf(script[n++], GLINE, "remove h%d", i + 1);
            if (g[i].exists) snprintf(script[n++], GLINE, "cleanup h%d", i + 1);
        }
        printf("#= sequence %d seed %llu\n", q, seed);
        for (int i = 0; i < n; i++) printf("# %s\n", script[i]);
        for (int i = 0; i < n; i++) exec_line(script[i], 0);
        end_sequence();
    }
    free(script);
    return 0;
}

#endif
