"""Benchmarks: everything the README claims about speed and compute saved is measured here."""
