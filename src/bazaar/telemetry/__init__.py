"""What the running pieces tell an operator: Prometheus metrics and structured logs."""
