"""Learned policies: pick-and-place (``transporter``); graph navigation later."""
