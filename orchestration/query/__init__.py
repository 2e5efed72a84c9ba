"""The query trust layer's actions: policy loading, resolution, preview, execution, redaction."""
