"""Benchmarks: ``vmss-responder bench`` (see README.md beside this file)."""
