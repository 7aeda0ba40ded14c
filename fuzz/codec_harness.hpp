// What every provider codec must do with whatever its upstream sends: a stream (framed by the SSE
// parser, as http_providers frames it) ends in exactly one terminal event (stop or error), the last
// one, and nothing comes after it; a whole body decodes to at most one terminal event, last; an
// error body is an error event. The first input byte picks the mode.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_input.hpp"
#include "llm/types.hpp"
#include "net/sse_parser.hpp"

namespace parley::fuzz {

inline bool terminal(const llm::StreamEvent& e) {
    return e.kind == llm::StreamEvent::Kind::stop || e.kind == llm::StreamEvent::Kind::error;
}

// At most one terminal event, and if there is one it is the last.
inline void check_ending(const std::vector<llm::StreamEvent>& events, bool required) {
    std::size_t ends = 0;
    for (const auto& e : events) {
        ends += terminal(e) ? 1 : 0;
    }
    check(ends <= 1, "more than one stop or error");
    check(!required || ends == 1, "a stream without its stop or error");
    check(ends == 0 || terminal(events.back()), "events after the stop or error");
}

template <class Decoder, class DecodeResponse, class DecodeError>
int run_codec(
    const std::uint8_t* data,
    std::size_t size,
    DecodeResponse decode_response,
    DecodeError decode_error
) {
    Input in(data, size);
    const auto mode = in.byte() % 3;
    if (mode == 0) {
        net::SseParser sse;
        Decoder decoder;
        std::vector<llm::StreamEvent> all;
        for (auto& event : sse.feed(in.rest())) {
            const bool was_done = decoder.done();
            auto out = decoder.decode(event.named ? event.event : std::string(), event.data);
            check(!was_done || out.empty(), "events after the decoder was done");
            all.insert(all.end(), out.begin(), out.end());
        }
        auto out = decoder.finish();
        all.insert(all.end(), out.begin(), out.end());
        check(decoder.done() || !all.empty(), "finish() left the decoder open");
        check_ending(all, true);
    } else if (mode == 1) {
        if (auto events = decode_response(in.rest())) {
            check_ending(*events, false);
        }
    } else {
        const int status = 400 + in.byte() % 200;
        const auto retry = in.byte();
        std::optional<std::chrono::seconds> retry_after;
        if (retry != 0) {
            retry_after = std::chrono::seconds(retry);
        }
        const llm::StreamEvent e = decode_error(status, in.rest(), retry_after);
        check(e.kind == llm::StreamEvent::Kind::error, "an error body that is not an error event");
    }
    return 0;
}

}  // namespace parley::fuzz
