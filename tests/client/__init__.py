"""Tests of kybernetes.client against a real API server."""
