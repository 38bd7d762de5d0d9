"""The learned withdrawal-risk ranking: trained on earlier years' outcomes, used when it beats the rules."""

from lib.risk.model import order_by_risk, order_note, rank, show, train

__all__ = ["order_by_risk", "order_note", "rank", "show", "train"]
