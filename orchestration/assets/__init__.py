"""Dagster assets: thin bodies that gather facts and call services."""
