"""Launchers: workers on other hosts (version check, SSH), engines (vLLM, SGLang, Xinference).

Nothing here imports locust: the Locust side of the version check lives in
``tokenswarm.loadgen.version_check``; these modules build command lines and manage processes.
"""
