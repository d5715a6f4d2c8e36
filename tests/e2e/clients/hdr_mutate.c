/* hdr_mutate URL BODY MODE: the program's header list is changed in place (curl_slist_append onto
 * the list already set with CURLOPT_HTTPHEADER) from the progress callback, after llmshim has
 * judged the request but before libcurl sends it. MODE 0: no mutation (list: X-Tenant: a).
 * MODE 1: progress call #N (N=argv[4], default 2) appends "X-Mock-Body-Bytes: 3000".
 * Prints rc, the body length the program got, and X-LLMShim-Cache. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static struct curl_slist *list; static int calls, mode, at = 2, mutated; static size_t total; static char cache[32] = "-";
static int onp(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) { (void)u;(void)a;(void)b;(void)c;(void)d;
  if (mode && ++calls == at && !mutated) { mutated = 1; curl_slist_append(list, "X-Mock-Body-Bytes: 3000"); }
  return 0; }
static size_t onw(char *p, size_t s, size_t n, void *u) { (void)p;(void)u; total += s*n; return s*n; }
static size_t onh(char *p, size_t s, size_t n, void *u) { (void)u; size_t l=s*n;
  if (l > 16 && !strncasecmp(p, "x-llmshim-cache:", 16)) snprintf(cache, sizeof cache, "%.*s", (int)(l-18), p+17);
  return l; }
int main(int argc, char **argv) {
  mode = atoi(argv[3]); if (argc > 4) at = atoi(argv[4]);
  CURL *e = curl_easy_init();
  list = curl_slist_append(NULL, "X-Tenant: a");
  curl_easy_setopt(e, CURLOPT_URL, argv[1]);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, argv[2]);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, onp);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, onw);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, onh);
  CURLcode rc = curl_easy_perform(e);
  printf("mode=%d rc=%d body=%zu cache=%s mutated_at_call=%d\n", mode, rc, total, cache, mutated ? at : 0);
  curl_easy_cleanup(e); curl_slist_free_all(list); return 0; }
