"""Service layer: one function per user action. The caller opens the transaction and passes
the session in; each write checks the actor's permission and writes one audit row."""
