// The OpenAI codec on any stream, body or error body (codec_harness.hpp says what must hold); and
// its fast path: a stream decoded with the plain-chunk scan gives exactly the events of the same
// stream decoded by full parses only.
#include <vector>

#include "codec_harness.hpp"
#include "llm/openai_codec.hpp"

namespace {

using parley::llm::OpenAiStreamDecoder;
using parley::llm::StreamEvent;

bool same(const StreamEvent& a, const StreamEvent& b) {
    return a.kind == b.kind && a.text == b.text && a.usage.input_tokens == b.usage.input_tokens &&
           a.usage.output_tokens == b.usage.output_tokens && a.finish == b.finish &&
           a.error == b.error && a.http_status == b.http_status && a.retry_after == b.retry_after &&
           a.tool_call.id == b.tool_call.id && a.tool_call.name == b.tool_call.name &&
           a.tool_call.arguments == b.tool_call.arguments &&
           a.tool_call.invalid_arguments == b.tool_call.invalid_arguments;
}

void check_same(const std::vector<StreamEvent>& fast, const std::vector<StreamEvent>& full) {
    parley::fuzz::check(fast.size() == full.size(), "the scan changed the number of events");
    for (std::size_t i = 0; i < fast.size() && i < full.size(); ++i) {
        parley::fuzz::check(same(fast[i], full[i]), "the scan changed an event");
    }
}

void check_scan_matches_parse(const std::uint8_t* data, std::size_t size) {
    parley::fuzz::Input in(data, size);
    parley::net::SseParser sse;
    OpenAiStreamDecoder fast;
    OpenAiStreamDecoder full(OpenAiStreamDecoder::ChunkScan::off);
    for (auto& event : sse.feed(in.rest())) {
        const std::string name = event.named ? event.event : std::string();
        check_same(fast.decode(name, event.data), full.decode(name, event.data));
    }
    check_same(fast.finish(), full.finish());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_scan_matches_parse(data, size);
    return parley::fuzz::run_codec<OpenAiStreamDecoder>(
        data, size, parley::llm::decode_openai_response, parley::llm::decode_openai_error
    );
}
