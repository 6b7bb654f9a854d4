"""Writers of realistic evidence (SIPStack traces, syslog, journald, JSON application logs,
OTLP spans) for the demo and tests."""
