"""What leaves the server besides pages and streams: email, webhooks, and the outbox that retries both."""
