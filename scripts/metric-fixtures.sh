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
# BERTScore: the bert-score package on the two BERT folders make models fetches (torch and
# transformers at the versions of the neural fixtures, same venv).
.tools/venv/bin/pip install -q torch==2.4.0 transformers==4.46.3 bert-score==0.3.13
scripts/fetch-models.sh
.tools/venv/bin/python scripts/bertscore-fixture.py
