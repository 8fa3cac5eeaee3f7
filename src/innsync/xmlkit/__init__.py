"""XML shared by the XML channels (Booking.com OTA now, Expedia EQC and Agoda YCS later).

Neither a channel nor a simulator: both sides import it, so the one hardened parser and the one
schema validator serve the adapter that sends a message and the simulator that checks it.

- :mod:`innsync.xmlkit.parsing`: parse what arrives (no DTD, no entities, no network, a size
  cap) and build what leaves (:class:`Builder`, namespace-aware, deterministic bytes);
- :mod:`innsync.xmlkit.validation`: validate a document against the XSD its root names, from
  a folder of schemas shipped with the package (``opentravel_2015a/``, see its ``README.md``).
"""
