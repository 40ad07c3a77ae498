"""The benchmark (``bench/run.py``) and its helpers; a package so ``bench.bearer`` imports."""
