"""What every service process imports: the service runtime (routes with MAPnet's rules, the unit
of work, the outbox relay, event consumers), the bus client, the database module, settings and
logs. Nothing here knows any service; services declare themselves (see ``declaration``)."""
