"""What ``skewsleuth demo`` writes: the seed incident (:data:`scenario.SEED`) as the hosts
would have logged it, and the event-XML and SIPStack writers it is written with.

The test-data generators (corpora, fleets, NTP responders, syslog and application-log
writers) live in the repository's ``tests/synth``; they reuse these writers.
"""
