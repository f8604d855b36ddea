"""Development tools: generators and checks run by `make`, never by a service."""
