"""`python -m bench`: every latency figure the project reports (trace cost, then the browser, a
2,048-token matrix, then BertViz beside it). Flags: --no-browser (trace cost only), --no-peer (no BertViz)."""
import sys

from . import bertviz_peer, browser, long_input, trace_overhead

if __name__ == "__main__":
    trace_overhead.main()
    if "--no-browser" not in sys.argv:
        ours = browser.main()
        long_input.main()     # one 2,048 x 2,048 matrix: a tiny long-context GPT-2 from a folder
        if "--no-peer" in sys.argv:
            print("BertViz peer skipped: --no-peer")
        else:
            bertviz_peer.main(ours)    # in the same run, so ours / BertViz compares like with like
