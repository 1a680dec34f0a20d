"""What lets billflow's AWS adapters run with no AWS account: test doubles of the engines moto does not run
(Athena's SQL, Spectrum's tables), a protocol shim that lets the Redshift driver talk to PostgreSQL, and
the throw-away servers (PostgreSQL, moto) that `make demo-aws` and the tests start. None of it is part of
the product: each module says what it stands in for and what it cannot show."""
