"""Twilio status callbacks and inbound messages."""
