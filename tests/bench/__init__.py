"""Benchmarks: the program under mocks, and the whole program for real."""
