/* reenter_easy URL BODY: curl_easy_perform(self) from inside the write callback of a transfer.
 * Plain libcurl refuses it (CURLE_FAILED_INIT: the handle is in use). Prints the inner and outer rc. */
#include <curl/curl.h>
#include <stdio.h>
static int tried; static CURLcode inner = -1; static size_t total;
static size_t onw(char *p, size_t s, size_t n, void *ud) { (void)p;
  if (!tried++) inner = curl_easy_perform((CURL *)ud);
  total += s * n; return s * n; }
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, argv[1]);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, argv[2]);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, onw);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, e);
  for (int i = 0; i < 2; i++) { tried = 0; inner = -1; total = 0;
    CURLcode rc = curl_easy_perform(e);
    printf("run%d outer=%d inner=%d total=%zu\n", i, rc, inner, total); }
  curl_easy_cleanup(e); return 0; }
