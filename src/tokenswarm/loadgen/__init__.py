"""Load generation on Locust: the only package that imports locust."""
