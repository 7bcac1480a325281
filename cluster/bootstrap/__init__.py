"""Bringing a cluster up and down: the local Ray head, component actors, tokens and client config."""
