"""Phone gateways: adapters that send texts and make calls, and report what happened.

Gateways decide nothing (DESIGN.md §3): the methods room says what to send and to whom, and
hears back through :func:`vahva.gateways.base.call_event`, the one door in.
"""
