"""The parties of the protocol, each a thin agent over the setup pipeline (``marketplace.setup``),
the chain bindings (``marketplace.contracts``, ``audit``, ``retrieval``) and the input channel:
``provider`` (registers a model and answers with proofs) and ``consumer`` (the client that checks
a setup before it pays: the consumer of predictions, and in the same class the auditor of
accuracy claims and the requester of retrievals). No agent module imports another."""
