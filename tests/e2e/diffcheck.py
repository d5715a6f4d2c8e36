#!/usr/bin/python3
"""diffcheck.py - compares a run of tests/e2e/clients/diff with its baseline (the same script on
plain libcurl). Used by tests/e2e/test_differential.sh.

    diffcheck.py MODE BASELINE RUN LABEL

MODE:
  same    two baselines: every line identical (the harness is deterministic)
  cache   llmshim, LLMSHIM_MODE=cache (first run on an empty cache, or any run)
  cache2  the second cache run on the same cache: also (c) below
  record  LLMSHIM_MODE=record
  replay  LLMSHIM_MODE=replay on what record stored

Rules, per transfer line (lines starting with T, plus add/remove errors starting with A):
  (a) the line equals the baseline's without its cache= and net= fields; in replay mode a
      transfer may instead fail as a replay miss (rc=7 err=llmshim:), and the rest of its
      sequence is then held to (d) alone: a refused transfer runs none of the program's
      callbacks, so what they would have set (deferred steps) lands in later transfers
  (b) a transfer with a cache= value must have net=0; one without, the baseline's net
  (c) cache2: a plain cacheable LLM call of the baseline (rc 0, code 2xx, the server saw POST
      /v1/chat/completions, no redirect, with a body) is a HIT
  (d) replay: a POST to a /v1/ path with a body never reaches the network (net=0)
Prints a one-line summary, then the first differences ($DIFFCHECK_SHOW, default 2) with the
sequence they are in; exit 1 when any.
"""
import os
import re
import sys

LINE = re.compile(r"^(T\d+) (\S+) (\S+) rc=(-?\d+) code=(\d+) saw=<(.*?)> body=(\S+) def=(\S+) "
                  r"err=(\S+) cache=(\S+) net=(-?\d+)$")
SHOWN = int(os.environ.get("DIFFCHECK_SHOW", "2"))


def transfers(path):
    """[(line, fields or None, the '#=' sequence header before it)] of the T and A lines."""
    out, seq = [], ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("#="):
                seq = line[2:].strip()
            if not line.startswith(("T", "A ")):
                continue
            m = LINE.match(line)
            out.append((line, m.groups() if m else None, seq))
    return out


def core(line):
    """The line without the fields llmshim may change."""
    return re.sub(r" cache=\S+ net=-?\d+$", "", line)


def saw_parts(fields):
    saw = fields[5].split(" ")
    return saw if len(saw) == 5 else None


def plain_cacheable(b):
    saw = saw_parts(b)
    return (b[3] == "0" and b[4].startswith("2") and len(b[4]) == 3 and saw is not None
            and saw[1] == "POST" and saw[2] == "/v1/chat/completions" and saw[4] != "0")


def llm_post(b):
    saw = saw_parts(b)
    return saw is not None and saw[1].upper() == "POST" and saw[2].startswith("/v1/") and saw[4] != "0"


def check(mode, base, run):
    """Yields (sequence, message) for each violation."""
    if len(base) != len(run):
        yield "", "%d transfer lines, the baseline has %d" % (len(run), len(base))
    diverged = set()  # replay: sequences with a refused transfer
    for (bl, b, seq), (rl, r, _) in zip(base, run):
        if mode == "same":
            if bl != rl:
                yield seq, "not deterministic:\n      1st: %s\n      2nd: %s" % (bl, rl)
            continue
        if b is None or r is None:
            if bl != rl:
                yield seq, "differs:\n      base: %s\n      shim: %s" % (bl, rl)
            continue
        cache, net, bnet = r[9], int(r[10]), int(b[10])
        replay_miss = mode == "replay" and r[3] == "7" and r[8] == "llmshim:"
        if replay_miss:
            diverged.add(seq)
        if seq in diverged:  # judged by what this run sent (a GET may go out; a POST never)
            if llm_post(r) and net != 0:
                yield seq, "(d) replay reached the network:\n      shim: %s" % rl
            continue
        if core(bl) != core(rl):
            yield seq, "(a) differs:\n      base: %s\n      shim: %s" % (bl, rl)
        elif cache != "-" and net != 0:
            yield seq, "(b) cache=%s but net=%d:\n      shim: %s" % (cache, net, rl)
        elif cache == "-" and net != bnet and not replay_miss:
            yield seq, "(b) net=%d, the baseline's %d:\n      base: %s\n      shim: %s" % (net, bnet, bl, rl)
        elif mode == "cache2" and plain_cacheable(b) and cache != "HIT":
            yield seq, "(c) not a HIT on a warm cache:\n      base: %s\n      shim: %s" % (bl, rl)
        elif mode == "replay" and llm_post(b) and net != 0:
            yield seq, "(d) replay reached the network:\n      shim: %s" % rl


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("same", "cache", "cache2", "record", "replay"):
        sys.stderr.write(__doc__)
        return 2
    mode, label = sys.argv[1], sys.argv[4]
    bad = list(check(mode, transfers(sys.argv[2]), transfers(sys.argv[3])))
    if not bad:
        return 0
    rules = sorted({msg[:3] for _, msg in bad if msg.startswith("(")})
    print("%s [%s]: %d difference(s) %s" % (label, mode, len(bad), " ".join(rules)))
    for seq, msg in bad[:SHOWN]:
        print("  %s%s" % ("in " + seq + ": " if seq else "", msg))
    return 1


if __name__ == "__main__":
    sys.exit(main())
