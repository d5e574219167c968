"""eci-redeploy: keep Alibaba Cloud ECI container groups on the image that was just pushed.

The flow: trigger adapter -> PushEvent -> rules match -> plan (pure) -> apply (ECI gateway) -> report.
"""

__version__ = "0.1.0"
