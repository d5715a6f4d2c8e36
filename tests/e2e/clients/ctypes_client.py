#!/usr/bin/python3
"""ctypes_client.py - calls libcurl through ctypes, loaded RTLD_LOCAL under its own handle, the
way FFI bindings do; it knows nothing of llmshim.

    ctypes_client.py URL PROMPT [--nowrite] [--dlvsym]

Each function is looked up on that private handle: with dlsym (ctypes' own lookup, which
llmshim's dlsym hook can answer), or with --dlvsym through libc's dlvsym with libcurl's symbol
version (which nothing preloaded sees: llmshim cannot reach that program, it must run exactly as
without it). Posts one chat request with a Python write callback (or, with --nowrite, none:
libcurl fwrites the body to stdout), then prints the body, and on stderr
"result=0 status=200 type=... bytes=N headers=N cache=HIT|none". Exit status: the CURLcode.
"""
import ctypes
import json
import os
import sys

CURLOPT_URL = 10002
CURLOPT_POSTFIELDS = 10015
CURLOPT_HTTPHEADER = 10023
CURLOPT_WRITEFUNCTION = 20011
CURLOPT_HEADERFUNCTION = 20079
CURLINFO_RESPONSE_CODE = 0x200000 + 2
CURLINFO_CONTENT_TYPE = 0x100000 + 18
CURLINFO_SIZE_DOWNLOAD_T = 0x600000 + 8
CURL_GLOBAL_DEFAULT = 3
LIBCURL, LIBCURL_VERSION = "libcurl.so.4", b"CURL_OPENSSL_4"

P, I, L, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p
WRITE_CB = ctypes.CFUNCTYPE(ctypes.c_size_t, P, ctypes.c_size_t, ctypes.c_size_t, P)


def resolver(lib, use_dlvsym):
    """fn(name, restype, argtypes) -> a callable for that libcurl function."""
    if not use_dlvsym:
        def by_dlsym(name, restype, argtypes):
            f = lib[name]  # a new function object per lookup: argtypes of its own
            f.restype, f.argtypes = restype, argtypes
            return f
        return by_dlsym
    libc = ctypes.CDLL("libc.so.6")
    libc.dlvsym.restype = P
    libc.dlvsym.argtypes = [P, S, S]

    def by_dlvsym(name, restype, argtypes):
        addr = libc.dlvsym(lib._handle, name.encode(), LIBCURL_VERSION)
        if not addr:
            raise SystemExit("dlvsym %s@%s failed" % (name, LIBCURL_VERSION.decode()))
        return ctypes.CFUNCTYPE(restype, *argtypes)(addr)
    return by_dlvsym


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    url, prompt, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
    nowrite = "--nowrite" in flags
    lib = ctypes.CDLL(LIBCURL, mode=os.RTLD_LOCAL | os.RTLD_NOW)
    fn = resolver(lib, "--dlvsym" in flags)
    global_init = fn("curl_global_init", I, [L])
    easy_init = fn("curl_easy_init", P, [])
    slist_append = fn("curl_slist_append", P, [P, S])
    setopt_ptr = fn("curl_easy_setopt", I, [P, I, P])  # variadic in C: one prototype per type
    perform = fn("curl_easy_perform", I, [P])
    getinfo = fn("curl_easy_getinfo", I, [P, I, P])
    cleanup = fn("curl_easy_cleanup", None, [P])
    slist_free_all = fn("curl_slist_free_all", None, [P])

    global_init(CURL_GLOBAL_DEFAULT)
    h = easy_init()
    if not h:
        return 1
    body = json.dumps({"model": "gpt-4o-mini",
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    hdrs = slist_append(None, b"Content-Type: application/json")
    pieces, headers = [], []

    def on_body(ptr, size, n, _ud):
        pieces.append(ctypes.string_at(ptr, size * n))
        return size * n

    def on_header(ptr, size, n, _ud):
        headers.append(ctypes.string_at(ptr, size * n))
        return size * n

    wcb, hcb = WRITE_CB(on_body), WRITE_CB(on_header)
    c_url, c_body = ctypes.c_char_p(url.encode()), ctypes.c_char_p(body)
    setopt_ptr(h, CURLOPT_URL, ctypes.cast(c_url, P))
    setopt_ptr(h, CURLOPT_HTTPHEADER, hdrs)
    setopt_ptr(h, CURLOPT_POSTFIELDS, ctypes.cast(c_body, P))
    setopt_ptr(h, CURLOPT_HEADERFUNCTION, ctypes.cast(hcb, P))
    if not nowrite:
        setopt_ptr(h, CURLOPT_WRITEFUNCTION, ctypes.cast(wcb, P))
    sys.stdout.flush()
    res = perform(h)
    status, ctype, size = ctypes.c_long(0), ctypes.c_char_p(), ctypes.c_int64(0)
    getinfo(h, CURLINFO_RESPONSE_CODE, ctypes.byref(status))
    getinfo(h, CURLINFO_CONTENT_TYPE, ctypes.byref(ctype))
    getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, ctypes.byref(size))
    cache = "none"
    for line in headers:
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "x-llmshim-cache":
            cache = value.strip()
    line = "result=%d status=%d type=%s bytes=%d headers=%d cache=%s\n" % (
        res, status.value, (ctype.value or b"-").decode(), size.value, len(headers), cache)
    cleanup(h)
    slist_free_all(hdrs)
    if not nowrite:
        os.write(1, b"".join(pieces) + b"\n")
    sys.stderr.write(line)
    return res


if __name__ == "__main__":
    sys.exit(main())
