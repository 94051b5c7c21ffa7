"""One small module per external service (Kafka, MongoDB, Redis, S3), shared by the front door and the workers."""
