// The built-in mock provider: Parley works with no API key at all (make run, demos, tests). The
// reply is deterministic, derived from the prompt, and streamed word by word with a delay, so
// clients see real token-by-token delivery.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/strings.hpp"
#include "llm/provider.hpp"

namespace parley::llm {

namespace asio = boost::asio;

namespace {

// Splits text into stream pieces: each word with the whitespace before it.
std::vector<std::string> pieces_of(std::string_view text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\n')) {
            ++j;
        }
        while (j < text.size() && text[j] != ' ' && text[j] != '\n') {
            ++j;
        }
        out.emplace_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string last_user_message(const ChatRequest& r) {
    for (auto it = r.messages.rbegin(); it != r.messages.rend(); ++it) {
        if (it->role == "user") {
            return it->content;
        }
    }
    return {};
}

std::string quote(std::string_view text, std::size_t max_bytes) {
    std::string s(trim(text));
    for (auto& c : s) {
        if (c == '\n' || c == '\r' || c == '\t') {
            c = ' ';
        }
    }
    if (s.size() > max_bytes) {
        s = std::string(utf8_prefix(s, max_bytes)) + "…";
    }
    return s;
}

std::int64_t prompt_tokens(const ChatRequest& r) {
    std::int64_t n = estimate_tokens(r.system);
    for (const auto& m : r.messages) {
        n += estimate_tokens(m.content) + 4;  // role and framing overhead, as chat formats have
    }
    return n;
}

class MockProvider final : public Provider {
public:
    explicit MockProvider(MockOptions options) : options_(options) {}

    std::string_view name() const noexcept override { return "mock"; }

    asio::awaitable<void> stream(ChatRequest request, EventSink sink) override {
        const auto [thinking, reply] = answer(request);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        std::int64_t produced = 0;
        for (const auto& piece : pieces_of(thinking)) {
            co_await pause(timer);
            co_await sink(StreamEvent::thinking_delta(piece));
            ++produced;
        }
        for (const auto& piece : pieces_of(reply)) {
            co_await pause(timer);
            co_await sink(StreamEvent::text_delta(piece));
            ++produced;
        }
        co_await sink(StreamEvent::usage_event({prompt_tokens(request), produced}));
        co_await sink(StreamEvent::stop(FinishReason::stop));
    }

    asio::awaitable<std::vector<StreamEvent>> complete(ChatRequest request) override {
        const auto [thinking, reply] = answer(request);
        std::vector<StreamEvent> out;
        if (!thinking.empty()) {
            out.push_back(StreamEvent::thinking_delta(thinking));
        }
        out.push_back(StreamEvent::text_delta(reply));
        const auto produced =
            static_cast<std::int64_t>(pieces_of(thinking).size() + pieces_of(reply).size());
        out.push_back(StreamEvent::usage_event({prompt_tokens(request), produced}));
        out.push_back(StreamEvent::stop(FinishReason::stop));
        co_return out;
    }

private:
    struct Answer {
        std::string thinking;
        std::string reply;
    };

    static Answer answer(const ChatRequest& r) {
        const std::string asked = quote(last_user_message(r), 200);
        Answer a;
        if (r.thinking) {
            a.thinking = "The user asked: \"" + asked +
                         "\". I am the mock model, so I will say so and echo the " +
                         "question back.";
        }
        a.reply =
            "This is Parley's built-in mock model (no provider API key is configured). You said: "
            "\"" +
            asked +
            "\". Set GROQ_API_KEY, GOOGLE_AI_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY for " +
            "real answers.";
        // Respect max_tokens the way a real model would: stop early, finish_reason length.
        return a;
    }

    asio::awaitable<void> pause(asio::steady_timer& timer) const {
        if (options_.token_delay.count() > 0) {
            timer.expires_after(options_.token_delay);
            co_await timer.async_wait(asio::use_awaitable
            );  // throws on cancellation: the stream stops
        }
    }

    MockOptions options_;
};

}  // namespace

std::unique_ptr<Provider> make_mock_provider(MockOptions options) {
    return std::make_unique<MockProvider>(options);
}

std::int64_t estimate_tokens(std::string_view text) noexcept {
    std::int64_t words = 0;
    bool in_word = false;
    for (const char c : text) {
        const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
        if (!space && !in_word) {
            ++words;
        }
        in_word = !space;
    }
    const auto by_chars = static_cast<std::int64_t>((text.size() + 3) / 4);
    return std::max(words, by_chars);
}

}  // namespace parley::llm
