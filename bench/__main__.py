"""`python -m bench`: every latency figure the project reports (trace cost, then the browser)."""
import sys

from . import browser, trace_overhead

if __name__ == "__main__":
    trace_overhead.main()
    if "--no-browser" not in sys.argv:
        browser.main()
