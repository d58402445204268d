"""The completions proxy: a lean Starlette app that runs requests against provider plugins."""
