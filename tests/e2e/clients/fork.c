/* fork: a libcurl program that forks after a transfer, the way pre-fork servers and job runners
 * do; it knows nothing of llmshim.
 *
 *   fork URL [--child-reuse] [--repeat N]
 *       The parent asks prompt A (then N more times), then forks. The child asks A again and then a new prompt B
 *       (on a new easy handle, or with --child-reuse on the handle inherited from the parent,
 *       connection included) and exits. The parent waits for it, then asks B on its own handle.
 *   fork URL --busy N
 *       The parent asks A, starts a thread that asks A over and over on its own handle, and
 *       forks N children one after another while that thread runs; each child asks A once on
 *       a new handle (under a 10 s alarm: a lock inherited in a held state would hang it); the
 *       first child that fails ends the forking.
 *
 * Each transfer prints one line on stdout, flushed at once:
 *   <who> <prompt> result=0 status=200 cache=HIT|none <body>
 * (who: parent, child, child3, busy...). Exit status: 0 when every transfer of the parent and of
 * every child succeeded with status 200 and every child exited 0; 1 otherwise. */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reply.h"

static const char *url;

/* One chat transfer of prompt `prompt` on h; prints its line unless quiet; 0 on success. */
static int ask(CURL *h, const char *who, const char *prompt, int quiet) {
    char body[256];
    struct buf b = {0};
    snprintf(body, sizeof(body),
             "{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"fork prompt %s\"}]}", prompt);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    CURLcode res = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (!quiet || res != CURLE_OK || status != 200) {
        printf("%s %s result=%d status=%ld cache=%s %s\n", who, prompt, (int)res, status, b.hit ? "HIT" : "none",
               b.data ? b.data : "");
        fflush(stdout);
    }
    free(b.data);
    return res == CURLE_OK && status == 200 ? 0 : 1;
}

static int wait_child(pid_t pid, const char *who) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) { perror("waitpid"); return 1; }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    if (WIFSIGNALED(st)) printf("%s killed by signal %d\n", who, WTERMSIG(st));
    else printf("%s exited %d\n", who, WEXITSTATUS(st));
    fflush(stdout);
    return 1;
}

static atomic_int busy_stop; /* read by the busy thread while main sets it */
static int busy_failures;
static void *busy(void *arg) {
    (void)arg;
    CURL *h = curl_easy_init();
    if (!h) { busy_failures++; return NULL; }
    while (!busy_stop) busy_failures += ask(h, "busy", "A", 1);
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [--child-reuse] [--repeat N] | URL --busy N\n", argv[0]);
        return 2;
    }
    url = argv[1];
    int child_reuse = 0, nbusy = 0, repeat = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--child-reuse")) child_reuse = 1;
        else if (!strcmp(argv[i], "--busy") && i + 1 < argc) nbusy = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else { fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]); return 2; }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    if (!h) return 1;
    int failed = ask(h, "parent", "A", 0);
    for (int i = 0; i < repeat; i++) failed |= ask(h, "parent-again", "A", 0);

    if (nbusy > 0) {
        pthread_t tid;
        pthread_create(&tid, NULL, busy, NULL);
        for (int i = 0; i < nbusy; i++) {
            char who[32];
            snprintf(who, sizeof(who), "child%d", i);
            fflush(stdout);
            pid_t pid = fork();
            if (pid < 0) { perror("fork"); failed = 1; break; }
            if (pid == 0) {
                alarm(10);
                CURL *c = curl_easy_init();
                int rc = c ? ask(c, who, "A", 0) : 1;
                if (c) curl_easy_cleanup(c);
                _exit(rc);
            }
            if (wait_child(pid, who)) { failed = 1; break; }
        }
        busy_stop = 1;
        pthread_join(tid, NULL);
        if (busy_failures) { printf("busy thread: %d failed transfers\n", busy_failures); failed = 1; } /* joined */
    } else {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            alarm(20);
            CURL *c = child_reuse ? h : curl_easy_init();
            int rc = c ? ask(c, "child", "A", 0) | ask(c, "child", "B", 0) : 1;
            curl_easy_cleanup(c);
            curl_global_cleanup();
            exit(rc);
        }
        failed |= wait_child(pid, "child");
        failed |= ask(h, "parent", "B", 0);
    }
    curl_easy_cleanup(h);
    curl_global_cleanup();
    return failed;
}
