"""Test helpers for provider plugins: replay server, network guard, cassettes, requests, the adapter contract."""
