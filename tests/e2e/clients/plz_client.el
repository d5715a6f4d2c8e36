;; plz.el (Debian elpa-plz), the HTTP library of llm.el and Ement: it runs the curl tool as a
;; child process and parses what curl prints. Asynchronous, as llm.el calls it (plz 0.2's
;; synchronous mode can return before its sentinel has run). Usage:
;;   emacs --batch -l plz_client.el URL BODY OUT
;; writes "status N cache HIT|none" and the body to OUT (Emacs prints process messages on stdout);
;; a failed request signals its plz-error (exit code 255).
(require 'plz)
(let* ((url (nth 0 command-line-args-left))
       (body (nth 1 command-line-args-left))
       (out (nth 2 command-line-args-left))
       (done nil) (resp nil) (failure nil)
       (deadline (+ (float-time) 50)))
  (setq command-line-args-left nil)
  (plz 'post url :headers '(("Content-Type" . "application/json")) :body body :as 'response
    :then (lambda (r) (setq resp r done t))
    :else (lambda (e) (setq failure e done t)))
  (while (and (not done) (< (float-time) deadline))
    (accept-process-output nil 0.05))
  (unless done (error "plz: no answer within 50 s"))
  (when failure (signal 'plz-curl-error failure))
  (with-temp-file out
    (insert (format "status %s cache %s\n" (plz-response-status resp)
                    (or (alist-get 'x-llmshim-cache (plz-response-headers resp)) "none")))
    (insert (plz-response-body resp))
    ;; plz 0.2 reads curl's stderr through a pipe whose sentinel may write this line into the
    ;; response buffer, with or without llmshim: it is not part of the answer
    (goto-char (point-min))
    (while (re-search-forward "\n?Process plz-request-curl stderr finished\n?" nil t)
      (replace-match ""))))
