"""Where curve sets come from: surrogate benchmarks, and the project's own real training runs."""
