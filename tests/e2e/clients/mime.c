/* mime: a C program building a multipart upload with every kind of part libcurl's MIME API has:
 * a file by name, data in memory (copied by libcurl, then overwritten here), the same file through
 * the program's own read, seek and free callbacks, subparts with extra headers. It sends it twice
 * on one handle, then once from a curl_easy_duphandle copy, then frees everything.
 *
 *     mime URL FILE
 *
 * Each answer's body goes to stdout, one line each; stderr gets one line per transfer:
 *     <n> rc=N status=S cache=HIT|none frees=F
 * where frees counts the calls of the program's free callback so far. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int frees;
static char cache[16];

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    (void)ud;
    return fwrite(p, size, n, stdout);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    (void)ud;
    if (size * n > 16 && !strncasecmp(p, "X-LLMShim-Cache:", 16)) sscanf(p + 16, " %15s", cache);
    return size * n;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *arg) {
    return fread(buf, size, n, arg);
}

static int seek_cb(void *arg, curl_off_t offset, int origin) {
    return fseek(arg, (long)offset, origin) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

static void free_cb(void *arg) {
    (void)arg;
    frees++;
}

static int perform(CURL *c, int n) {
    strcpy(cache, "none");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    printf("\n");
    fflush(stdout);
    fprintf(stderr, "%d rc=%d status=%ld cache=%s frees=%d\n", n, (int)rc, status, cache, frees);
    return rc == CURLE_OK && status == 200 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: mime URL FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    CURL *c = curl_easy_init();
    curl_mime *mime = curl_mime_init(c);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "file");
    curl_mime_filedata(part, argv[2]);
    part = curl_mime_addpart(mime);
    curl_mime_name(part, "model");
    char model[] = "whisper-1";
    curl_mime_data(part, model, CURL_ZERO_TERMINATED);
    memset(model, 'x', sizeof(model) - 1); /* libcurl has its copy */
    part = curl_mime_addpart(mime);
    curl_mime_name(part, "again");
    curl_mime_filename(part, "again.wav");
    curl_mime_type(part, "audio/wav");
    curl_mime_data_cb(part, size, read_cb, seek_cb, free_cb, f);
    curl_mime *sub = curl_mime_init(c);
    curl_mimepart *sp = curl_mime_addpart(sub);
    curl_mime_data(sp, "one", CURL_ZERO_TERMINATED);
    struct curl_slist *hdrs = curl_slist_append(NULL, "X-Part: 1");
    curl_mime_headers(sp, hdrs, 1);
    part = curl_mime_addpart(mime);
    curl_mime_name(part, "more");
    curl_mime_subparts(part, sub);

    curl_easy_setopt(c, CURLOPT_URL, argv[1]);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    int failed = perform(c, 1);
    failed |= perform(c, 2);
    CURL *d = curl_easy_duphandle(c);
    rewind(f); /* the copy's callback part starts where the program's stream is */
    failed |= perform(d, 3);
    curl_easy_cleanup(d);
    curl_easy_cleanup(c);
    curl_mime_free(mime);
    fprintf(stderr, "end frees=%d\n", frees);
    fclose(f);
    return failed;
}
