"""A client's order stats, VIP flag and segment, as its orders make them: the rules (settings),
and the one query that computes them. The orders service asks it after each batch, the
commands service after a merge moved orders; the rules themselves are SQL (client_segment,
minor_digits: migration 0012), so nothing computes them twice."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.events import ClientSnapshot
from shared.db import Connection
from shared.settings import Settings, clock

# The stats columns of a client row, in the order STATS returns them (new_<name>).
COLUMNS = ("total_orders", "total_spent_minor", "first_order_at", "last_order_at", "is_vip",
           "segment")

# The stats of these clients as their orders make them, with VIP and segment by the rules
# ($3 VIP orders, $4 VIP spend in major units, $5-$8 the segment rules at $2 now), beside what
# the client row holds (locked); $1 the clients.
STATS = """
SELECT c.id, c.total_orders, c.total_spent_minor, c.first_order_at, c.last_order_at,
       c.is_vip, c.segment, s.total_orders AS new_total_orders,
       s.total_spent_minor AS new_total_spent_minor, s.first_order_at AS new_first_order_at,
       s.last_order_at AS new_last_order_at, v.is_vip AS new_is_vip,
       client_segment(s.total_orders, v.is_vip, s.last_order_at, $2, $5, $6, $7, $8)
           AS new_segment
FROM clients c
CROSS JOIN LATERAL (
    SELECT count(*)::int AS total_orders,
           coalesce(sum(total_minor - least(refunded_minor, total_minor)), 0)::bigint
               AS total_spent_minor,
           min(placed_at) AS first_order_at, max(placed_at) AS last_order_at,
           max(currency) AS currency
    FROM orders o WHERE o.client_id = c.id AND o.cancelled_at IS NULL) s
CROSS JOIN LATERAL (
    SELECT s.total_orders >= $3
           OR s.total_spent_minor >= $4::numeric * 10 ^ minor_digits(coalesce(s.currency, ''))
           AS is_vip) v
WHERE c.id = ANY ($1::uuid[])
ORDER BY c.id FOR NO KEY UPDATE OF c"""


# RESTAT: the stats computed (STATS, same parameters) and written where they moved, with a new
# version and updated_at = $2, in one statement; the rows written come back as the event
# snapshot has them (SNAPSHOT), with what their stats were before (old_<name>). Put together
# from constant names only (the contract's fields), no values.
SNAPSHOT = ", ".join(f"c.{name}" for name in ClientSnapshot.model_fields)
RESTAT = f"""
WITH s AS ({STATS})
UPDATE clients c
SET total_orders = s.new_total_orders, total_spent_minor = s.new_total_spent_minor,
    first_order_at = s.new_first_order_at, last_order_at = s.new_last_order_at,
    is_vip = s.new_is_vip, segment = s.new_segment, version = c.version + 1, updated_at = $2
FROM s
WHERE c.id = s.id
  AND (s.total_orders, s.total_spent_minor, s.first_order_at, s.last_order_at, s.is_vip,
       s.segment) IS DISTINCT FROM
      (s.new_total_orders, s.new_total_spent_minor, s.new_first_order_at,
       s.new_last_order_at, s.new_is_vip, s.new_segment)
RETURNING {SNAPSHOT}, {", ".join(f"s.{k} AS old_{k}" for k in COLUMNS)}"""  # noqa: S608


@dataclass(frozen=True)
class Rules:
    """The settings stats go by: the clock (CLOCK_OFFSET_S), the VIP thresholds and the
    segment rules (README, "Orders")."""

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

    def segment_args(self) -> tuple[int, int, int, int]:
        """The segment rules, as client_segment takes them after `now`."""
        return self.new_days, self.returning_orders, self.loyal_orders, self.at_risk_days


def _params(client_ids: list[UUID], rules: Rules, now: datetime) -> tuple[Any, ...]:
    """STATS's (and RESTAT's) $1-$8."""
    return (client_ids, now, rules.vip_orders, rules.vip_spend, *rules.segment_args())


async def restat(conn: Connection, client_ids: list[UUID], rules: Rules, now: datetime
                 ) -> list[Any]:
    """RESTAT: the clients whose stats moved, written; their rows with the old stats."""
    return await conn.fetch(RESTAT, *_params(client_ids, rules, now))


async def recompute(conn: Connection, client_ids: list[UUID], rules: Rules, now: datetime
                    ) -> dict[UUID, tuple[dict[str, Any], dict[str, Any]]]:
    """Each client's stats (locked) as its row holds them and as its orders make them."""
    rows = await conn.fetch(STATS, *_params(client_ids, rules, now))
    return {r["id"]: ({k: r[k] for k in COLUMNS}, {k: r["new_" + k] for k in COLUMNS})
            for r in rows}


DEFAULT_RULES = Rules()  # a value, not a resource: the settings' defaults
