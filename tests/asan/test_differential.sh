#!/usr/bin/env bash
# The differential tests (tests/e2e/test_differential.sh) with the sanitized shim inside the
# sanitized diff and cpr_pattern clients: a body swapped and freed from a callback, a buffer
# changed in place, handles reused across easy and multi, must never be read after they are
# gone (ASan) nor answered with another request's answer.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export LLMSHIM_TEST_SHIM=${LLMSHIM_TEST_SHIM:-$ROOT/build-asan/libllmshim.so}
export LLMSHIM_TEST_PRELOAD=${LLMSHIM_TEST_PRELOAD:-$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)}
export LLMSHIM_TEST_CLIENTS=${LLMSHIM_TEST_CLIENTS:-$ROOT/build-asan/clients}
exec bash "$ROOT/tests/e2e/test_differential.sh"
