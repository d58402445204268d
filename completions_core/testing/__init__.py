"""Test helpers for provider plugins: replay server, network guard, cassettes, the adapter contract."""
