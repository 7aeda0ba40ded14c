// The streaming benchmark's load generator: `concurrency` keep-alive connections, each running
// streams back to back until `streams` are done; every response is decoded as it arrives and its
// SSE content deltas timed. Prints one JSON line: streams, ok, errors (and their kinds), stalled
// streams (a gap over `stall_ms`), deltas, time to the first content delta and the gaps between
// deltas (p50/p99/max, milliseconds), elapsed time, deltas/s and the generator's own CPU seconds.
// One thread, one io_context.
#pragma once

#include <string>
#include <vector>

namespace parley::bench {

struct LoadOptions {
    std::string url;  // http://host:port/path (the path is replaced by the targets file's)
    int concurrency = 1;
    int streams = 1;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::string body_file;
    std::string targets_file;  // paths, one a line: connection i uses line i mod their number
    int expect_deltas = 0;     // fewer content deltas in a stream is an error (0: no check)
    int stall_ms = 200;
    int ramp_ms = 1000;      // connection starts spread evenly over this time
    int timeout_s = 30;      // longest silence (connect, or between reads) before giving up
    std::string ttfts_file;  // when set, each stream's TTFT in ms is written there, in end order
};

// Runs the load and prints the summary line. Returns the process exit code. Throws on an
// unreadable body or targets file.
int run_load(const LoadOptions& opts);

}  // namespace parley::bench
