"""RUO attestations captured at checkout (`clients.attestations.v1`): each recorded once against
its client, found by id or through the resolver."""
