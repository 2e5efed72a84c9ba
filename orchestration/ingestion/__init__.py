"""Ingestion: contracts read from their files and registered, and the SQL that applies a
contract's semantics to a landed batch."""
