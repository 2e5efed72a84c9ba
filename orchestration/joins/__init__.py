"""Join discovery and acceptance: profiles, candidates, validation, reviewed dbt code."""
