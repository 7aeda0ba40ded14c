// The three HTTP providers: one template over a wire codec, which supplies the URL, headers,
// request body and decoders; the HTTP exchange, SSE framing and error mapping are shared.
#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>

#include "common/strings.hpp"
#include "llm/anthropic_codec.hpp"
#include "llm/gemini_codec.hpp"
#include "llm/openai_codec.hpp"
#include "llm/provider.hpp"
#include "llm/wire_json.hpp"
#include "net/http_client.hpp"
#include "net/sse_parser.hpp"

namespace parley::llm {

namespace asio = boost::asio;

namespace {

std::string trim_slash(std::string url) {
    while (!url.empty() && url.back() == '/') {
        url.pop_back();
    }
    return url;
}

std::optional<std::chrono::seconds> retry_after_of(const net::ClientResponse& head) {
    const auto v = head.header("retry-after");
    int seconds = 0;
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (v.empty() || ec != std::errc{} || seconds < 0) {
        return std::nullopt;
    }
    return std::chrono::seconds(seconds);
}

// Whether a 200 answer to a stream request is an event stream. A missing Content-Type is given
// the benefit of the doubt; anything else (a proxy's or a broken server's JSON error, an HTML
// page) is not parsed as SSE, where it would read as a stream that ended early.
bool is_event_stream(const net::ClientResponse& head) {
    const std::string_view type = head.header("content-type");
    if (type.empty()) {
        return true;
    }
    constexpr std::string_view kSse = "text/event-stream";
    return iequals(type.substr(0, std::min(type.size(), kSse.size())), kSse);
}

// The error a 200 that is not an event stream stands for: the provider's error body when it is
// one (read as a 502 would be, its own type refining the class), else a malformed answer.
template <class Wire>
StreamEvent not_a_stream(const net::ClientResponse& head, std::string_view body) {
    if (auto parsed = json::parse(body, wire::kMaxDepth);
        parsed && parsed->is_object() && parsed->as_object().contains("error")) {
        return Wire::error(502, body, std::nullopt);
    }
    return StreamEvent::failure(
        UpstreamError::malformed,
        "the provider answered 200 with \"" + std::string(head.header("content-type")) +
            "\" instead of an event stream"
    );
}

struct OpenAiWire {
    using Decoder = OpenAiStreamDecoder;

    static std::string url(const ProviderEndpoint& e, const ChatRequest&, bool) {
        return trim_slash(e.base_url) + "/chat/completions";
    }

    static void headers(const ProviderEndpoint& e, net::ClientRequest& r) {
        if (!e.api_key.empty()) {
            r.headers.emplace_back("authorization", "Bearer " + e.api_key);
        }
    }

    static std::string body(const ChatRequest& r, bool stream) {
        return build_openai_request(r, stream);
    }

    static Result<std::vector<StreamEvent>> response(std::string_view b) {
        return decode_openai_response(b);
    }

    static StreamEvent error(int s, std::string_view b, std::optional<std::chrono::seconds> ra) {
        return decode_openai_error(s, b, ra);
    }
};

struct AnthropicWire {
    using Decoder = AnthropicStreamDecoder;

    static std::string url(const ProviderEndpoint& e, const ChatRequest&, bool) {
        return trim_slash(e.base_url) + "/v1/messages";
    }

    static void headers(const ProviderEndpoint& e, net::ClientRequest& r) {
        r.headers.emplace_back("x-api-key", e.api_key);
        r.headers.emplace_back("anthropic-version", "2023-06-01");
    }

    static std::string body(const ChatRequest& r, bool stream) {
        return build_anthropic_request(r, stream);
    }

    static Result<std::vector<StreamEvent>> response(std::string_view b) {
        return decode_anthropic_response(b);
    }

    static StreamEvent error(int s, std::string_view b, std::optional<std::chrono::seconds> ra) {
        return decode_anthropic_error(s, b, ra);
    }
};

struct GeminiWire {
    using Decoder = GeminiStreamDecoder;

    static std::string url(const ProviderEndpoint& e, const ChatRequest& r, bool stream) {
        return trim_slash(e.base_url) + "/v1beta/models/" + r.model +
               (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    }

    static void headers(const ProviderEndpoint& e, net::ClientRequest& r) {
        r.headers.emplace_back("x-goog-api-key", e.api_key);
    }

    static std::string body(const ChatRequest& r, bool stream) {
        return build_gemini_request(r, stream);
    }

    static Result<std::vector<StreamEvent>> response(std::string_view b) {
        return decode_gemini_response(b);
    }

    static StreamEvent error(int s, std::string_view b, std::optional<std::chrono::seconds> ra) {
        return decode_gemini_error(s, b, ra);
    }
};

template <class Wire>
class HttpProvider final : public Provider {
public:
    HttpProvider(ProviderEndpoint endpoint, net::HttpClient& client)
        : endpoint_(std::move(endpoint)),
          client_(client) {}

    std::string_view name() const noexcept override { return endpoint_.name; }

    // Not a coroutine: the request is made here and what the answer's reads need goes on the
    // heap (Streaming), so that the coroutine that waits for the answer holds a pointer (issue
    // 14: g++ 12 keeps each local of a coroutine in its frame for the frame's whole life, here
    // the answer's).
    asio::awaitable<void> stream(const ChatRequest& request, EventSink sink) override {
        net::ClientRequest req = make_request(request, true);
        req.headers.emplace_back("accept", "text/event-stream");
        auto streaming = std::make_unique<Streaming>(std::move(sink));
        auto sent = client_.send(
            std::move(req),
            [s = streaming.get()](const net::ClientResponse& head, std::string_view chunk) {
                return s->on_body(head, chunk);
            }
        );
        return await_stream(std::move(streaming), std::move(sent));
    }

    asio::awaitable<std::vector<StreamEvent>> complete(ChatRequest request) override {
        net::ClientRequest req = make_request(request, false);
        std::string body;
        auto on_body = [&body](const net::ClientResponse&, std::string_view chunk) -> bool {
            body.append(chunk);
            return true;
        };
        auto head = co_await client_.send(std::move(req), on_body);
        if (!head) {
            co_return std::vector<StreamEvent>{
                StreamEvent::failure(UpstreamError::connection, head.error().detail)};
        }
        if (head->status != 200) {
            co_return std::vector<StreamEvent>{
                Wire::error(head->status, body, retry_after_of(*head))};
        }
        auto events = Wire::response(body);
        if (!events) {
            co_return std::vector<StreamEvent>{
                StreamEvent::failure(UpstreamError::malformed, events.error().message)};
        }
        co_return std::move(*events);
    }

private:
    // A streamed answer's reads: the events are decoded and handed to the sink as they arrive.
    struct Streaming {
        explicit Streaming(EventSink s) : sink(std::move(s)) {}

        bool on_body(const net::ClientResponse& head, std::string_view chunk) {
            if (!events) {
                events = head.status == 200 && is_event_stream(head);
            }
            if (!*events) {
                if (error_body.size() < 64 * 1024) {
                    error_body.append(chunk);
                }
                return true;
            }
            for (const auto& e : parser.next(chunk)) {
                decoder.decode(e.event, e.data, decoded);
                for (auto& out : decoded) {
                    finished = finished || out.kind == StreamEvent::Kind::stop ||
                               out.kind == StreamEvent::Kind::error;
                    sink(std::move(out));
                }
            }
            if (parser.failed()) {
                sink(StreamEvent::failure(UpstreamError::malformed, std::string(parser.error())));
                finished = true;
            }
            return !finished;
        }

        EventSink sink;
        typename Wire::Decoder decoder;
        net::SseParser parser;
        std::vector<StreamEvent> decoded;  // one event's, kept: no allocation per event
        std::string error_body;
        bool finished = false;       // a stop or error event went to the sink
        std::optional<bool> events;  // whether the body is an event stream, known from the head
    };

    // stream()'s wait for the answer, and its ending.
    static asio::awaitable<void> await_stream(
        std::unique_ptr<Streaming> s, asio::awaitable<Result<net::ClientResponse>> sent
    ) {
        auto head = co_await std::move(sent);
        if (!head) {
            if (!s->finished) {
                s->sink(StreamEvent::failure(UpstreamError::connection, head.error().detail));
            }
            co_return;
        }
        if (head->status != 200) {
            s->sink(Wire::error(head->status, s->error_body, retry_after_of(*head)));
            co_return;
        }
        if (!is_event_stream(*head)) {
            s->sink(not_a_stream<Wire>(*head, s->error_body));
            co_return;
        }
        if (!s->finished) {
            for (auto& out : s->decoder.finish()) {
                s->sink(std::move(out));
            }
        }
    }

    net::ClientRequest make_request(const ChatRequest& request, bool stream) const {
        net::ClientRequest req;
        req.method = "POST";
        req.url = Wire::url(endpoint_, request, stream);
        req.headers.emplace_back("content-type", "application/json");
        Wire::headers(endpoint_, req);
        req.body = Wire::body(request, stream);
        return req;
    }

    ProviderEndpoint endpoint_;
    net::HttpClient& client_;
};

}  // namespace

std::unique_ptr<Provider> make_openai_provider(ProviderEndpoint endpoint, net::HttpClient& client) {
    return std::make_unique<HttpProvider<OpenAiWire>>(std::move(endpoint), client);
}

std::unique_ptr<Provider> make_anthropic_provider(
    ProviderEndpoint endpoint, net::HttpClient& client
) {
    return std::make_unique<HttpProvider<AnthropicWire>>(std::move(endpoint), client);
}

std::unique_ptr<Provider> make_gemini_provider(ProviderEndpoint endpoint, net::HttpClient& client) {
    return std::make_unique<HttpProvider<GeminiWire>>(std::move(endpoint), client);
}

}  // namespace parley::llm
