// The built-in mock provider: Parley works with no API key at all (make run, demos, tests). The
// reply is deterministic, derived from the prompt, and streamed word by word with a delay, so
// clients see real token-by-token delivery. It uses tools the way a model would: offered
// `fetch_internal_knowledge` and asked "What is X?", it calls the tool, and given the result it
// answers from it.
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
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
            return it->content.str();
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
        for (const auto& call : m.tool_calls) {
            n += estimate_tokens(call.name) + estimate_tokens(call.arguments);
        }
    }
    return n;
}

constexpr std::string_view kKnowledgeTool = "fetch_internal_knowledge";

bool offers(const ChatRequest& r, std::string_view tool) {
    return std::any_of(r.tools.begin(), r.tools.end(), [&](const ToolSpec& t) {
        return t.name == tool;
    });
}

bool is_edge_junk(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '.' || c == ',' || c == ';' ||
           c == ':' || c == '!' || c == '?' || c == '"' || c == '\'' || c == '(' || c == ')' ||
           c == '[' || c == ']' || c == '`' || c == '*';
}

std::string_view trim_junk(std::string_view s) noexcept {
    while (!s.empty() && is_edge_junk(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_edge_junk(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// The topic of a message that reads like "What is X?", "Tell me about X", "Look up X" or
// "Explain X": X's first sentence, lower-cased, without edge punctuation or a leading article;
// nullopt for any other message.
std::optional<std::string> lookup_topic(std::string_view message) {
    static constexpr std::array<std::string_view, 7> kOpeners = {
        "what is ",
        "what are ",
        "what's ",
        "tell me about ",
        "look up ",
        "lookup ",
        "explain ",
    };
    static constexpr std::array<std::string_view, 3> kArticles = {"a ", "an ", "the "};
    const std::string text = to_lower(trim(message));
    std::string_view rest;
    bool matched = false;
    for (const std::string_view opener : kOpeners) {
        if (std::string_view(text).starts_with(opener)) {
            rest = std::string_view(text).substr(opener.size());
            matched = true;
            break;
        }
    }
    if (!matched) {
        return std::nullopt;
    }
    // The first sentence only; a dot inside a word ("node.js") does not end it.
    std::size_t end = rest.find_first_of("?!\n");
    end = std::min(end, rest.find(". "));
    rest = trim_junk(rest.substr(0, end));
    for (const std::string_view article : kArticles) {
        if (rest.starts_with(article)) {
            rest = trim_junk(rest.substr(article.size()));
            break;
        }
        if (rest == article.substr(0, article.size() - 1)) {
            rest = {};  // "What is the?": no topic
        }
    }
    if (rest.empty()) {
        return std::nullopt;
    }
    return std::string(rest);
}

// The mock's answer from a tool result: its text, or the `content` / `summary` / `result` /
// `text` of a JSON object (its `error` says the tool failed).
std::string tool_answer(const ChatMessage& result) {
    std::string text = result.content.str();
    if (auto parsed = json::parse(result.content, 64); parsed && parsed->is_object()) {
        const boost::json::object& o = parsed->get_object();
        if (const auto* error = o.if_contains("error"); error != nullptr && error->is_string()) {
            return "I could not get an answer from " + result.tool_name + ": " +
                   quote(error->get_string(), 300);
        }
        for (const std::string_view key : {"content", "summary", "result", "text"}) {
            if (const auto* v = o.if_contains(key); v != nullptr && v->is_string()) {
                text = std::string(v->get_string());
                break;
            }
        }
    }
    const std::string found = quote(text, 600);
    if (result.tool_name.empty() || result.tool_name == kKnowledgeTool) {
        return "According to the knowledge base: " + found;
    }
    return "The " + result.tool_name + " tool says: " + found;
}

class MockProvider final : public Provider {
public:
    explicit MockProvider(MockOptions options) : options_(options) {}

    std::string_view name() const noexcept override { return "mock"; }

    asio::awaitable<void> stream(const ChatRequest& request, EventSink sink) override {
        Answer a = answer(request);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        std::int64_t produced = 0;
        for (const auto& piece : pieces_of(a.thinking)) {
            co_await pause(timer);
            sink(StreamEvent::thinking_delta(piece));
            ++produced;
        }
        for (const auto& piece : pieces_of(a.reply)) {
            co_await pause(timer);
            sink(StreamEvent::text_delta(piece));
            ++produced;
        }
        if (a.call) {
            co_await pause(timer);
            produced += estimate_tokens(a.call->arguments);
            sink(StreamEvent::tool_call_event(std::move(*a.call)));
        }
        sink(StreamEvent::usage_event({prompt_tokens(request), produced}));
        sink(StreamEvent::stop(a.finish));
    }

    asio::awaitable<std::vector<StreamEvent>> complete(ChatRequest request) override {
        Answer a = answer(request);
        std::vector<StreamEvent> out;
        if (!a.thinking.empty()) {
            out.push_back(StreamEvent::thinking_delta(a.thinking));
        }
        if (!a.reply.empty()) {
            out.push_back(StreamEvent::text_delta(a.reply));
        }
        auto produced =
            static_cast<std::int64_t>(pieces_of(a.thinking).size() + pieces_of(a.reply).size());
        if (a.call) {
            produced += estimate_tokens(a.call->arguments);
            out.push_back(StreamEvent::tool_call_event(std::move(*a.call)));
        }
        out.push_back(StreamEvent::usage_event({prompt_tokens(request), produced}));
        out.push_back(StreamEvent::stop(a.finish));
        co_return out;
    }

private:
    struct Answer {
        std::string thinking;
        std::string reply;
        std::optional<ToolCall> call;  // instead of a reply
        FinishReason finish = FinishReason::stop;
    };

    static Answer answer(const ChatRequest& r) {
        if (!r.messages.empty() && r.messages.back().role == "tool") {
            return answer_from_tool(r);
        }
        if (!r.messages.empty() && r.messages.back().role == "user" && offers(r, kKnowledgeTool)) {
            if (auto topic = lookup_topic(r.messages.back().content)) {
                return look_up(r, std::move(*topic));
            }
        }
        return echo(r);
    }

    // Calls fetch_internal_knowledge {"topic": topic}; ids count the conversation's calls, so
    // they are unique in it and the same every time.
    static Answer look_up(const ChatRequest& r, std::string topic) {
        std::size_t earlier = 0;
        for (const ChatMessage& m : r.messages) {
            earlier += m.tool_calls.size();
        }
        Answer a;
        if (r.thinking) {
            a.thinking = "The user asked: \"" + quote(r.messages.back().content, 200) +
                         "\". I will look up \"" + topic + "\" in the knowledge base.";
        }
        ToolCall call;
        call.id = "call_mock_" + std::to_string(earlier + 1);
        call.name = std::string(kKnowledgeTool);
        call.arguments = boost::json::serialize(boost::json::object{{"topic", topic}});
        a.call = std::move(call);
        a.finish = FinishReason::tool_use;
        return a;
    }

    static Answer answer_from_tool(const ChatRequest& r) {
        Answer a;
        if (r.thinking) {
            a.thinking = "The tool answered. I will pass on what it says.";
        }
        a.reply = tool_answer(r.messages.back());
        return a;
    }

    static Answer echo(const ChatRequest& r) {
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

namespace {

constexpr std::uint64_t kOnes = 0x0101'0101'0101'0101;
constexpr std::uint64_t kLow7 = 0x7f7f'7f7f'7f7f'7f7f;

// 0x80 in each byte of `x` that is zero, 0 elsewhere (exact: no carries between bytes).
constexpr std::uint64_t zero_bytes(std::uint64_t x) noexcept {
    return ~(((x & kLow7) + kLow7) | x | kLow7);
}

// 0x80 in each byte of `x` that is a space, newline, tab or carriage return.
constexpr std::uint64_t space_bytes(std::uint64_t x) noexcept {
    return zero_bytes(x ^ (kOnes * ' ')) | zero_bytes(x ^ (kOnes * '\n')) |
           zero_bytes(x ^ (kOnes * '\t')) | zero_bytes(x ^ (kOnes * '\r'));
}

constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

#if defined(__SSE2__)
// The words that start in text[0, end), end a multiple of 16, sixteen bytes at a time (SSE2, in
// every x86-64): a byte starts a word where it is not a space and the byte before it is (or it
// is the first). Each start adds one to its byte's counter; the counters are summed before any
// can pass 255.
std::int64_t words_by_16(std::string_view text, std::size_t end) noexcept {
    const __m128i space = _mm_set1_epi8(' ');
    const __m128i newline = _mm_set1_epi8('\n');
    const __m128i tab = _mm_set1_epi8('\t');
    const __m128i cr = _mm_set1_epi8('\r');
    const __m128i zero = _mm_setzero_si128();
    __m128i before = _mm_set1_epi8(-1);  // byte 15: the byte before the block was a space
    __m128i counters = zero;
    std::int64_t words = 0;
    int blocks = 0;
    const auto add_counters = [&] {
        const __m128i sums = _mm_sad_epu8(counters, zero);  // two 64-bit sums of eight bytes
        words += _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
        counters = zero;
    };
    for (std::size_t i = 0; i < end; i += 16) {
        const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
        const __m128i spaces = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(block, space), _mm_cmpeq_epi8(block, newline)),
            _mm_or_si128(_mm_cmpeq_epi8(block, tab), _mm_cmpeq_epi8(block, cr))
        );
        // Byte k of `previous` says whether byte k - 1 is a space (byte 0: the last block's 15).
        const __m128i previous =
            _mm_or_si128(_mm_slli_si128(spaces, 1), _mm_srli_si128(before, 15));
        counters = _mm_sub_epi8(counters, _mm_andnot_si128(spaces, previous));  // -(-1) = +1
        before = spaces;
        if (++blocks == 255) {
            add_counters();
            blocks = 0;
        }
    }
    add_counters();
    return words;
}
#endif

}  // namespace

// Every send estimates each message of its context (and the mock its whole prompt): sixteen
// bytes at a time where SSE2 is, then eight, a word being counted where a non-space byte follows
// a space (or starts the text).
std::int64_t estimate_tokens(std::string_view text) noexcept {
    std::int64_t words = 0;
    std::size_t i = 0;
#if defined(__SSE2__)
    i = text.size() / 16 * 16;
    words = words_by_16(text, i);
#endif
    // The byte before the block was a space: 0x80 in the low byte.
    std::uint64_t before = i == 0 || is_space(text[i - 1]) ? 0x80 : 0;
    // Byte k of the text is byte k of the block (bits 8k…8k+7) on a little-endian machine.
    for (; std::endian::native == std::endian::little && i + 8 <= text.size(); i += 8) {
        std::uint64_t block = 0;
        std::memcpy(&block, text.data() + i, 8);
        const std::uint64_t spaces = space_bytes(block);
        const std::uint64_t starts = ~spaces & ((spaces << 8) | before) & (kOnes * 0x80);
        // One bit (0x80) per byte that starts a word: their sum, without a popcount (a library
        // call on the baseline x86-64), is the top byte of (starts >> 7) × 0x0101…01.
        words += static_cast<std::int64_t>(((starts >> 7) * kOnes) >> 56);
        before = spaces >> 56;
    }
    bool in_word = before == 0;
    for (; i < text.size(); ++i) {
        const bool space = is_space(text[i]);
        if (!space && !in_word) {
            ++words;
        }
        in_word = !space;
    }
    const auto by_chars = static_cast<std::int64_t>((text.size() + 3) / 4);
    return std::max(words, by_chars);
}

}  // namespace parley::llm
