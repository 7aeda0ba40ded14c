// SseParser: any bytes, split anywhere, give the same events as the whole stream at once, and no
// event, type or id past the parser's bound.
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "net/sse_parser.hpp"

using parley::fuzz::check;
using parley::net::SseEvent;
using parley::net::SseParser;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    parley::fuzz::Input in(data, size);
    // A small bound now and then, so that the size checks are reached.
    const std::size_t max = (in.byte() & 1) != 0 ? 64 : SseParser::kDefaultMaxSize;
    const std::size_t step = 1 + in.byte() % 16;
    const auto stream = in.rest();

    SseParser whole(max);
    auto expected = whole.feed(stream);
    const bool whole_pending = whole.finish();

    SseParser pieces(max);
    std::vector<SseEvent> got;
    for (std::size_t at = 0; at < stream.size(); at += step) {
        auto events = pieces.feed(stream.substr(at, step));
        got.insert(got.end(), events.begin(), events.end());
    }
    const bool pieces_pending = pieces.finish();

    check(whole.failed() || pieces.failed() || expected == got, "split feed changed the events");
    if (!whole.failed() && !pieces.failed()) {
        check(whole_pending == pieces_pending, "split feed changed what is pending");
        check(whole.last_event_id() == pieces.last_event_id(), "split feed changed the last id");
        check(whole.retry_ms() == pieces.retry_ms(), "split feed changed retry");
        check(whole.comments() == pieces.comments(), "split feed changed the comment count");
    }
    for (const auto& e : expected) {
        check(
            e.data.size() <= max && e.event.size() <= max && e.id.size() <= max,
            "an event past the bound"
        );
        check(!e.event.empty(), "an event without a type");
    }
    return 0;
}
