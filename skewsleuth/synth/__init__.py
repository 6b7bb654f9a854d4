"""Writers of realistic evidence (SIPStack traces, syslog, journald) for the demo and tests."""
