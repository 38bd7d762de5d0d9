"""The learned withdrawal-risk ranking: trained on earlier years' outcomes, used when it beats the rules."""

from lib.risk.model import rank, show, train

__all__ = ["rank", "show", "train"]
