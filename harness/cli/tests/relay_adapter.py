"""What the broken-client wrappers of these tests share: run the real adapter given on the
command line, pass every request line to it and every answer back, one at a time, letting
`edit(request, answer)` change the answer on the way.
"""
import json
import subprocess
import sys


def relay(edit):
    inner = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    for line in sys.stdin:
        req = json.loads(line)
        inner.stdin.write(line if line.endswith("\n") else line + "\n")
        inner.stdin.flush()
        answer = inner.stdout.readline()
        if not answer:
            sys.exit(1)
        sys.stdout.write(json.dumps(edit(req, json.loads(answer))) + "\n")
        sys.stdout.flush()
    inner.stdin.close()
    inner.wait()
