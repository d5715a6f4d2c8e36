#!/usr/bin/python3
"""The tests' mock LLM server (tools/mockllm.py, unchanged) with Nagle's algorithm off on its
connections. The mock writes an answer's headers and its body in two sends; on a keep-alive
connection the second then waits for the client's delayed ACK, ~40 ms per request: a cost of the
mock's socket settings that would swamp every miss and first-event figure of the benchmark."""
import os
import runpy
import socketserver
import sys

socketserver.StreamRequestHandler.disable_nagle_algorithm = True
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "mockllm.py")
sys.argv[0] = path
runpy.run_path(path, run_name="__main__")
