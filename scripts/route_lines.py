"""Route each line of stdin through the one routing entry point and print route, level and findings.

Usage: cat data/probes/detect-21-sensitive.txt | PYTHONPATH=$PWD RAG_HOME=$(mktemp -d) .venv/bin/python scripts/route_lines.py
A literal \\n inside a line is a line break. For probing detection with your own sentences (data/probes/)."""
import sys

from rag.config import Settings
from rag.runtime import Runtime

runtime = Runtime(Settings())
for line in sys.stdin.read().splitlines():
    if not line.strip():
        continue
    text = line.replace("\\n", "\n")
    detection = runtime.detector.classify(text)
    found = [(f.entity_type, text[f.start:f.end][:40], round(f.score, 2)) for f in detection.findings]
    print(runtime.route_text(text).route, detection.level.name, found, "|", line[:90])
