"""Streaming chat completions load: ``locust -f locustfiles/openai_chat.py --host URL``.

Every tokenswarm option is listed by ``locust -f locustfiles/openai_chat.py --help``.
"""

from tokenswarm.loadgen import extensions  # noqa: F401  (registers tokenswarm's listeners)
from tokenswarm.loadgen.users import OpenAIChatUser

__all__ = ["OpenAIChatUser"]
