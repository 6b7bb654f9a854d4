"""Test-data generators for the tests and benchmarks: synthetic corpora in every text
format (:mod:`.corpus`), fleets loaded straight into a store (:mod:`.fleet`), SNTP
responders (:mod:`.ntp`), syslog, journald and application-log writers, and scenarios
beyond the seed. Importable as ``synth`` with ``tests/`` on ``sys.path`` (pytest puts it
there). The event-XML and SIPStack writers and the seed scenario are in the product, in
:mod:`skewsleuth.demo`, since ``skewsleuth demo`` needs them."""
