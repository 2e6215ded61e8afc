"""`python -m bench`: every latency figure the project reports."""
from . import trace_overhead

if __name__ == "__main__":
    trace_overhead.main()
