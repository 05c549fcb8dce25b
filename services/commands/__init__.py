"""Commands on clients: `clients.commands.v1` applied one transaction per command (the row, one
audit entry, the event), results on `clients.commands.results.v1`."""
