"""Reading the evidence: from paths on disk to the ``events`` and ``quarantine`` tables.

``discovery`` finds the files and sniffs their formats; ``files`` reads one file through
its source (:mod:`skewsleuth.sources`), wherever that runs; ``workers`` runs those reads
in worker processes or on a Dask cluster, results in order; ``cache`` keeps parsed files
beside a kept case database; ``ingest`` loads the results into the store and counts.
"""
