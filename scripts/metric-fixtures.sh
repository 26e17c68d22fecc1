#!/usr/bin/env bash
# Regenerates tests/fixtures/metrics/ and tests/fixtures/human-agreement/ with the reference
# tools (pinned versions) in .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .tools/venv/bin/python ] || python3 -m venv .tools/venv
.tools/venv/bin/pip install -q sacrebleu==2.6.0 rouge-score==0.1.2 nltk==3.10.4 scipy==1.17.1 numpy==2.4.6
.tools/venv/bin/python scripts/metric-fixtures.py
.tools/venv/bin/python scripts/human-agreement-fixtures.py
# sacremoses 0.0.43 (the version behind the WMT19 BLEU baseline COMET and BARTScore published):
# its character classes and prefixes for src/metrics/bleu/moses_tables.rs, and a tokenization
# fixture for the port.
.tools/venv/bin/pip install -q sacremoses==0.0.43
.tools/venv/bin/python scripts/moses-tables.py
.tools/venv/bin/python scripts/moses-fixture.py
