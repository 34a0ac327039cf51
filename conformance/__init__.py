"""videomock's conformance kit: checks a live gateway, or a client program, against the documented behaviour.

This first part holds what the simulator's own tests share with the kit: decoding the media a
gateway hands out (:mod:`conformance.media`).
"""
