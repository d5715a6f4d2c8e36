/* redis_server.h: throwaway redis-servers for the unit tests of the Redis store, started on
 * random loopback ports (never the system one on 6379), each with its own directory and unix
 * socket (through which the tests check what the store did), optionally with a TLS port too.
 * Header-only, included by one test file each. */
#ifndef LLMSHIM_TEST_REDIS_SERVER_H
#define LLMSHIM_TEST_REDIS_SERVER_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

struct server {
    pid_t pid;
    int port;
    int tls_port;         /* 0: none */
    char dir[64];
    char sock[96];
    char url[160];        /* redis://127.0.0.1:port */
    const char *password; /* of the default user, for admin connections */
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* A plain connection to s through its unix socket, authenticated: for checking. */
static redisContext *admin(const struct server *s) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (s->password) {
        redisReply *r = redisCommand(c, "AUTH %s", s->password);
        if (r) freeReplyObject(r);
    }
    return c;
}

static void server_stop(struct server *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGCONT);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/redis.log", s->dir);
    unlink(path);
    unlink(s->sock);
    rmdir(s->dir);
}

/* Starts redis-server with extra arguments (NULL-terminated) on a random free port; with
 * certdir, a TLS port too (the next one) serving certdir/<cert>.pem, clients' certificates
 * required when auth. */
static int server_start_tls(struct server *s, const char *password, const char *const *extra, const char *certdir,
                            const char *cert, int auth) {
    memset(s, 0, sizeof(*s));
    s->password = password;
    strcpy(s->dir, "/tmp/llmshim-redis.XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
    char certf[300], keyf[300], caf[300];
    if (certdir) {
        snprintf(certf, sizeof(certf), "%s/%s.pem", certdir, cert);
        snprintf(keyf, sizeof(keyf), "%s/%s.key", certdir, cert);
        snprintf(caf, sizeof(caf), "%s/ca.pem", certdir);
    }
    for (int attempt = 0; attempt < 20; attempt++) {
        s->port = 10000 + (int)((unsigned)rand() % 22000); /* below the ephemeral ports */
        char port[16], tport[16], log[96];
        snprintf(port, sizeof(port), "%d", s->port);
        snprintf(tport, sizeof(tport), "%d", s->port + 1);
        snprintf(log, sizeof(log), "%s/redis.log", s->dir);
        const char *argv[50] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--daemonize", "no", "--dir", s->dir,
                                "--unixsocket", s->sock, "--unixsocketperm", "700"};
        int n = 17;
        if (password) argv[n++] = "--requirepass", argv[n++] = password;
        if (certdir) {
            const char *t[] = {"--tls-port", tport, "--tls-cert-file", certf, "--tls-key-file", keyf,
                               "--tls-ca-cert-file", caf, "--tls-auth-clients", auth ? "yes" : "no"};
            for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) argv[n++] = t[i];
        }
        for (int i = 0; extra && extra[i] && n < 49; i++) argv[n++] = extra[i];
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
            setpgid(0, 0);
            /* a test run that dies (a hang killed by a timeout) takes its servers with it */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(1);
            execvp("redis-server", (char *const *)argv);
            _exit(127);
        }
        s->pid = pid;
        /* the unix socket is in our own directory: when it answers, the server (and the TCP
         * ports, bound before it) is ours */
        for (int i = 0; i < 400; i++) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) break;
            redisContext *c = admin(s);
            redisReply *r = c ? redisCommand(c, "PING") : NULL;
            int up = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
            if (r) freeReplyObject(r);
            if (c) redisFree(c);
            if (up) {
                snprintf(s->url, sizeof(s->url), "redis://127.0.0.1:%d", s->port);
                s->tls_port = certdir ? s->port + 1 : 0;
                return 0;
            }
            sleep_ms(10);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        s->pid = 0;
    }
    server_stop(s); /* removes the directory */
    return -1;
}

static inline int server_start(struct server *s, const char *password, const char *const *extra) {
    return server_start_tls(s, password, extra, NULL, NULL, 0);
}

#endif
