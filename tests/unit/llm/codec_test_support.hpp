// Helpers shared by the provider codec tests (OpenAI-compatible, Anthropic, Gemini): split SSE text
// into events the way the provider SDKs do, feed it through a stream decoder, and render the
// resulting StreamEvents as short strings ("text:Hi", "stop:length") so a test compares whole
// streams in one EXPECT_EQ. Header-only; test code only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llm/types.hpp"

namespace parley::llm::testing {

// One SSE event: its `event:` name (possibly empty) and its joined data lines.
struct SseEvent {
    std::string event;
    std::string data;
};

// Splits SSE text into events the way the SDKs do: blank line ends an event, one space after the
// colon is dropped, several data lines are joined with '\n'.
inline std::vector<SseEvent> split_sse(std::string_view text) {
    std::vector<SseEvent> out;
    SseEvent current;
    bool any = false;
    bool has_data = false;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) {
            nl = text.size();
        }
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) {
            if (any) {
                out.push_back(current);
            }
            current = {};
            any = false;
            has_data = false;
            continue;
        }
        const std::size_t colon = line.find(':');
        std::string_view field = line.substr(0, colon);
        std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
        if (value.starts_with(' ')) {
            value.remove_prefix(1);
        }
        if (field == "event") {
            current.event = std::string(value);
            any = true;
        } else if (field == "data") {
            if (has_data) {
                current.data += '\n';
            }
            current.data += value;
            has_data = true;
            any = true;
        }
    }
    if (any) {
        out.push_back(current);
    }
    return out;
}

// Feeds every event of `sse` to `decoder` (any of the stream decoders) and returns all the
// StreamEvents it produced, in order. As the providers do, each event is decoded into one vector
// kept across events, which decode() must clear first: it starts out holding a stray event, which
// would show in every result otherwise.
template <class Decoder>
std::vector<StreamEvent> feed(Decoder& decoder, std::string_view sse) {
    std::vector<StreamEvent> out;
    std::vector<StreamEvent> decoded{StreamEvent::text_delta("stray")};
    for (const SseEvent& e : split_sse(sse)) {
        decoder.decode(e.event, e.data, decoded);
        for (StreamEvent& ev : decoded) {
            out.push_back(std::move(ev));
        }
    }
    return out;
}

// One event as `kind:payload` ("think:…", "text:…", "tool:id name arguments", "usage:in/out",
// "stop:reason", "error:kind").
inline std::string render(const StreamEvent& e) {
    switch (e.kind) {
        case StreamEvent::Kind::thinking_delta:
            return "think:" + e.text;
        case StreamEvent::Kind::text_delta:
            return "text:" + e.text;
        case StreamEvent::Kind::tool_call:
            return "tool:" + e.tool_call.id + " " + e.tool_call.name + " " + e.tool_call.arguments;
        case StreamEvent::Kind::usage:
            return "usage:" + std::to_string(e.usage.input_tokens) + "/" +
                   std::to_string(e.usage.output_tokens);
        case StreamEvent::Kind::stop:
            return "stop:" + std::string(finish_reason_name(e.finish));
        case StreamEvent::Kind::error:
            return "error:" + std::string(upstream_error_name(e.error));
    }
    return "?";
}

// Every event rendered, in order.
inline std::vector<std::string> render(const std::vector<StreamEvent>& events) {
    std::vector<std::string> out;
    out.reserve(events.size());
    for (const StreamEvent& e : events) {
        out.push_back(render(e));
    }
    return out;
}

// What render(events) returns, for the expected side of a comparison.
using Lines = std::vector<std::string>;

}  // namespace parley::llm::testing
