// Throughput of the outbound stream parsers (net/sse_parser, net/ndjson_reader) on recorded
// provider streams repeated into an 8 MiB buffer and fed in chunks the size of typical socket reads
// (the benchmark's argument). Reports bytes/s and events/s (lines/s for NDJSON). Built standalone:
//   g++ -std=c++20 -O2 -I src src/net/sse_parser.cpp src/net/ndjson_reader.cpp
//       bench/parsers_bench.cpp -lbenchmark -lbenchmark_main -pthread -o /tmp/parsers_bench
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <benchmark/benchmark.h>

#include "llm/anthropic_codec.hpp"
#include "llm/gemini_codec.hpp"
#include "llm/openai_codec.hpp"
#include "net/ndjson_reader.hpp"
#include "net/sse_parser.hpp"

namespace {

// The same recordings as tests/unit/net/*_test.cpp.
constexpr std::string_view kAnthropic = R"sse(event: message_start
data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}

event: message_stop
data: {"type":"message_stop"}

)sse";

constexpr std::string_view kOpenAi =
    R"sse(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}

data: [DONE]

)sse";

// Gemini's lines end in CRLF; each LF of this text becomes CRLF in gemini().
constexpr std::string_view kGeminiLf =
    R"sse(data: {"candidates": [{"content": {"parts": [{"text": "¡Hola"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.0-flash"}

data: {"candidates": [{"content": {"parts": [{"text": "! 👋 ¿Qué tal?"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.0-flash"}

data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 9,"totalTokenCount": 17},"modelVersion": "gemini-2.0-flash"}

)sse";

constexpr std::string_view kOllama =
    R"ndjson({"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z","message":{"role":"assistant","content":"Hello"},"done":false}
{"model":"llama3.2","created_at":"2024-07-22T20:33:28.234951Z","message":{"role":"assistant","content":" w\u00f6rld 👋"},"done":false}
{"model":"llama3.2","created_at":"2024-07-22T20:33:28.301482Z","message":{"role":"assistant","content":"!"},"done":false}
{"model":"llama3.2","created_at":"2024-07-22T20:33:28.412303Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":3,"eval_duration":4535599000}
)ndjson";

constexpr std::size_t kBufferSize = std::size_t{8} << 20;

std::string repeat(std::string_view recording) {
    std::string out;
    out.reserve(kBufferSize + recording.size());
    while (out.size() < kBufferSize) {
        out.append(recording);
    }
    return out;
}

std::string crlf(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\n') {
            out += '\r';
        }
        out += c;
    }
    return out;
}

void run_sse(benchmark::State& state, const std::string& buffer) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const std::string_view view = buffer;
    std::size_t events = 0;
    for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the idiom
        parley::net::SseParser parser;
        for (std::size_t i = 0; i < view.size(); i += chunk) {
            const auto out = parser.feed(view.substr(i, chunk));
            events += out.size();
            benchmark::DoNotOptimize(out.data());
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * view.size()));
    state.counters["events"] =
        benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void sse_openai(benchmark::State& state) {
    static const std::string buffer = repeat(kOpenAi);
    run_sse(state, buffer);
}

void sse_anthropic(benchmark::State& state) {
    static const std::string buffer = repeat(kAnthropic);
    run_sse(state, buffer);
}

void sse_gemini_crlf(benchmark::State& state) {
    static const std::string buffer = repeat(crlf(kGeminiLf));
    run_sse(state, buffer);
}

void ndjson_ollama(benchmark::State& state) {
    static const std::string buffer = repeat(kOllama);
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const std::string_view view = buffer;
    std::size_t lines = 0;
    for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the idiom
        parley::net::NdjsonReader reader;
        for (std::size_t i = 0; i < view.size(); i += chunk) {
            const auto out = reader.feed(view.substr(i, chunk));
            lines += out.size();
            benchmark::DoNotOptimize(out.data());
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * view.size()));
    // Named as for SSE so the columns line up: for NDJSON an event is a line.
    state.counters["events"] =
        benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsRate);
}

}  // namespace

// SSE framing plus the provider's chunk decoding into StreamEvents, one recorded response at a
// time (a decoder serves one response), as a provider sees it.
template <class Decoder>
void run_decode(benchmark::State& state, const std::string& recording) {
    std::int64_t events = 0;
    for (auto _ : state) {
        parley::net::SseParser parser;
        Decoder decoder;
        for (auto& e : parser.feed(recording)) {
            auto out = decoder.decode(e.event, e.data);
            events += static_cast<std::int64_t>(out.size());
            benchmark::DoNotOptimize(out.data());
        }
    }
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(recording.size())
    );
    state.counters["events"] =
        benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void decode_openai(benchmark::State& state) {
    run_decode<parley::llm::OpenAiStreamDecoder>(state, std::string(kOpenAi));
}

void decode_anthropic(benchmark::State& state) {
    run_decode<parley::llm::AnthropicStreamDecoder>(state, std::string(kAnthropic));
}

void decode_gemini(benchmark::State& state) {
    run_decode<parley::llm::GeminiStreamDecoder>(state, crlf(kGeminiLf));
}

BENCHMARK(decode_openai);
BENCHMARK(decode_anthropic);
BENCHMARK(decode_gemini);
BENCHMARK(sse_openai)->Arg(1024)->Arg(16384);
BENCHMARK(sse_anthropic)->Arg(1024)->Arg(16384);
BENCHMARK(sse_gemini_crlf)->Arg(1024)->Arg(16384);
BENCHMARK(ndjson_ollama)->Arg(1024)->Arg(16384);
