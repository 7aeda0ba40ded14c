// The streaming benchmark's fake upstream: an OpenAI-compatible server that answers a streaming
// POST …/chat/completions with a chat.completion.chunk stream — a role chunk, `deltas` content
// deltas `gap_ms` apart (on an absolute schedule), a finish chunk, a usage chunk and
// `data: [DONE]` — chunked, on keep-alive connections. A non-streaming request gets the same text
// as one chat.completion at once; `POST /bench/gap-ms` and `POST /bench/deltas` with a number as
// the body set the gap and the number of deltas of the answers that start after it (204); other
// requests a JSON 404. The model field echoes the
// request's.
#pragma once

#include <cstdint>

namespace parley::bench {

struct UpstreamOptions {
    std::uint16_t port = 0;  // on 127.0.0.1; 0: any free port
    int deltas = 64;
    int gap_ms = 20;
};

// Listens, prints `listening <port>` on stdout, and serves from one io_context on the calling
// thread until SIGINT or SIGTERM. Returns the process exit code.
int run_upstream(UpstreamOptions opts);

}  // namespace parley::bench
