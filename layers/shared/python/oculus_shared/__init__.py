"""Shared domain and adapters of the IRIS Oculus serverless backend (the Lambda layer).

The package stays free of heavy libraries (no numpy, nibabel, TensorFlow): it ships in a
Lambda layer and every handler imports it on a cold start.
"""

__version__ = "0.1.0"
