// Baseline for start-up timing: no imports, no work.
