"""The settings orders go by: the clock (CLOCK_OFFSET_S), the VIP thresholds and the segment
rules. The rules themselves are SQL (client_segment, minor_digits: migration 0012), so the
orders service and the daily job cannot disagree."""

from dataclasses import dataclass
from datetime import datetime

from shared.settings import Settings, clock


@dataclass(frozen=True)
class Rules:
    vip_orders: int = 10
    vip_spend: int = 50_000          # in the currency's major units
    new_days: int = 30
    returning_orders: int = 2
    loyal_orders: int = 5
    at_risk_days: int = 90
    clock_offset_s: float = 0.0

    @classmethod
    def of(cls, s: Settings) -> "Rules":
        return cls(s.customers_vip_order_threshold, s.customers_vip_spend_threshold,
                   s.segment_new_days, s.segment_returning_orders, s.segment_loyal_orders,
                   s.segment_at_risk_days, s.clock_offset_s)

    def now(self) -> datetime:
        return clock(self.clock_offset_s)

    def args(self) -> tuple[int, int, int, int, int, int]:
        """STATS's $3-$8."""
        return (self.vip_orders, self.vip_spend, self.new_days, self.returning_orders,
                self.loyal_orders, self.at_risk_days)

    def segment_args(self) -> tuple[int, int, int, int]:
        """MOVE_SEGMENTS's $2-$5."""
        return self.new_days, self.returning_orders, self.loyal_orders, self.at_risk_days
