# r_client.R - asks a chat endpoint through R's curl package (Debian r-cran-curl), the way an R
# program would; it knows nothing of llmshim.
#
#   Rscript r_client.R MODE URL PROMPT...
#
# MODE:
#   fetch  curl_fetch_memory(url, handle = h) per prompt, with handle_setopt(h, postfields = body);
#          the default fetch is interruptible, which drives libcurl's multi API
#   multi  multi_add for every prompt on a new pool, then one multi_run
#
# CLIENT_GZIP=1 adds X-Mock-Gzip: 1, so the mock answers gzip-encoded (R sends Accept-Encoding).
# Bodies go to stdout, each followed by a newline; one line per transfer on stderr:
#   <label> result=ok status=200 bytes=N cache=HIT|none
# Exit status: 0 when every transfer succeeded with status 200.
suppressPackageStartupMessages(library(curl))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 3) {
  cat("usage: r_client.R fetch|multi URL PROMPT...\n", file = stderr())
  quit(status = 2)
}
mode <- args[1]
url <- args[2]
prompts <- args[-(1:2)]

json_string <- function(s) {
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  paste0("\"", gsub("\"", "\\\"", s, fixed = TRUE), "\"")
}
body_for <- function(prompt) {
  paste0("{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": ",
         json_string(prompt), "}]}")
}
new_handle_for <- function(prompt) {
  h <- new_handle()
  handle_setopt(h, postfields = body_for(prompt), timeout = 30)
  if (Sys.getenv("CLIENT_GZIP") == "1")  # the mock then gzips the answer (R asks for gzip)
    handle_setheaders(h, "Content-Type" = "application/json", "X-Mock-Gzip" = "1")
  else
    handle_setheaders(h, "Content-Type" = "application/json")
  h
}
cache_of <- function(res) {
  hs <- parse_headers(res$headers)
  hit <- grep("^x-llmshim-cache:", hs, ignore.case = TRUE, value = TRUE)
  if (length(hit)) trimws(sub("^[^:]*:", "", hit[1])) else "none"
}

ok <- TRUE
out <- stdout()
report <- function(label, res, err = NULL) {
  if (!is.null(err)) {
    cat(label, " result=", err, "\n", sep = "", file = stderr())
    ok <<- FALSE
    return(invisible())
  }
  body <- rawToChar(res$content)
  cat(body, "\n", sep = "", file = out)
  cat(label, " result=ok status=", res$status_code, " bytes=", length(res$content),
      " cache=", cache_of(res), "\n", sep = "", file = stderr())
  if (res$status_code != 200) ok <<- FALSE
}

if (mode == "fetch") {
  for (i in seq_along(prompts)) {
    h <- new_handle_for(prompts[i])
    res <- tryCatch(curl_fetch_memory(url, handle = h), error = function(e) e)
    if (inherits(res, "error")) report(paste0("fetch#", i - 1), NULL, conditionMessage(res))
    else report(paste0("fetch#", i - 1), res)
  }
} else if (mode == "multi") {
  pool <- new_pool()
  results <- vector("list", length(prompts))
  for (i in seq_along(prompts)) {
    local({
      k <- i
      h <- handle_setopt(new_handle_for(prompts[k]), url = url)
      multi_add(h, pool = pool,
                done = function(res) results[[k]] <<- list(res = res),
                fail = function(msg) results[[k]] <<- list(err = msg))
    })
  }
  st <- multi_run(timeout = 60, pool = pool)
  if (st$pending > 0) { cat("multi: still pending\n", file = stderr()); ok <- FALSE }
  for (i in seq_along(prompts)) {
    r <- results[[i]]
    label <- paste0("multi#", i - 1)
    if (is.null(r)) report(label, NULL, "no callback")
    else if (!is.null(r$err)) report(label, NULL, r$err)
    else report(label, r$res)
  }
} else {
  cat("unknown mode ", mode, "\n", sep = "", file = stderr())
  quit(status = 2)
}
quit(status = if (ok) 0 else 1)
