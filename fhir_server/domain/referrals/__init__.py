"""Referrals: up/down ServiceRequests, reserved slots and beds, the three priorities, feedback."""
