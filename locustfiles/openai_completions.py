"""Streaming text completions load: ``locust -f locustfiles/openai_completions.py --host URL``.

Every tokenswarm option is listed by ``locust -f locustfiles/openai_completions.py --help``.
"""

from tokenswarm.loadgen import extensions  # noqa: F401  (registers tokenswarm's listeners)
from tokenswarm.loadgen.users import OpenAICompletionsUser

__all__ = ["OpenAICompletionsUser"]
