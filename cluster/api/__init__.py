"""The API vocabulary every component shares: resources, the manifest codec, quantities, selectors."""
